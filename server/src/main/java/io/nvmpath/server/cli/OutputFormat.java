package io.nvmpath.server.cli;

/** How a command prints its result, as nvme-cli's {@code -o/--output-format}. */
enum OutputFormat {
    /** Lines for a person, laid out like nvme-cli's. */
    normal,
    /** One pretty-printed JSON document on stdout; lower camel case names, identifiers as hex strings. */
    json
}
