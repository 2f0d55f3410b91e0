package io.nvmpath.config;

/** A configuration error, naming the field as the YAML spells it and what is wrong with it. */
public final class ConfigException extends RuntimeException {
    private final String field;

    public ConfigException(String field, String problem) {
        super(field + ": " + problem);
        this.field = field;
    }

    /** The path of the wrong field, e.g. {@code ports[1].subsystems[0]}. */
    public String field() {
        return field;
    }
}
