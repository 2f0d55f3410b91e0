package io.nvmpath.config;

import java.nio.file.Path;
import java.util.function.Function;

/**
 * A secret of a configuration (a DH-HMAC-CHAP secret, a TLS pre-shared key), given inline as
 * {@code key} or in a file as {@code keyFile}. Its text is handed to the parser that checks it, and a
 * parser's complaint becomes a {@link ConfigException} naming the field as the YAML spells it and
 * never the secret; {@link #toString()} names where it came from only.
 *
 * @param text the secret as written (a file's whole content)
 * @param at the field it came from ({@code portals[0].dhchapSecretFile})
 * @param file the file it was read from, or {@code null} when inline
 */
public record SecretText(String text, String at, Path file) {

    /**
     * The secret under {@code key} or {@code key + "File"} of {@code f}, or {@code null} when neither
     * is there. Relative file names are resolved against {@code baseDir} (when not null).
     *
     * @param inlineAllowed false to accept the file form only: {@code key} itself is then refused
     *                      with a message that says where the secret goes
     * @throws ConfigException for both forms at once, an unreadable file, or an inline secret where
     *                         only files are accepted
     */
    public static SecretText read(YamlFields f, String key, Path baseDir, boolean inlineAllowed) {
        String fileKey = key + "File";
        if (f.has(key) && !inlineAllowed) {
            throw new ConfigException(f.at(key), "secrets are not written into this configuration: put it in a file"
                    + " and name that in " + fileKey);
        }
        if (f.has(key) && f.has(fileKey)) {
            throw new ConfigException(f.at(fileKey), "give " + key + " or " + fileKey + ", not both");
        }
        if (f.has(key)) {
            String at = f.at(key);
            return new SecretText(YamlFields.asString(f.get(key), at), at, null);
        }
        if (!f.has(fileKey)) {
            return null;
        }
        return file(f, fileKey, baseDir);
    }

    /**
     * The secret in the file that {@code key} of {@code f} names (as {@code tls: {psk: FILE}}), or
     * {@code null} when {@code key} is absent; a relative name is resolved against {@code baseDir}.
     */
    public static SecretText file(YamlFields f, String key, Path baseDir) {
        if (!f.has(key)) {
            return null;
        }
        String at = f.at(key);
        Path file = Path.of(YamlFields.asString(f.get(key), at));
        if (baseDir != null && !file.isAbsolute()) {
            file = baseDir.resolve(file).normalize();
        }
        try {
            return new SecretText(YamlFields.readFile(file), at, file);
        } catch (ConfigException e) {
            throw new ConfigException(at, e.getMessage()); // "FILE: no such file"
        }
    }

    /**
     * The secret as {@code parser} makes it; an {@link IllegalArgumentException} of the parser (whose
     * message must not quote the secret) becomes a {@link ConfigException} at {@link #at()}.
     */
    public <T> T parse(Function<String, T> parser) {
        try {
            return parser.apply(text);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(at, e.getMessage());
        }
    }

    /** Where the secret came from; never the secret. */
    @Override
    public String toString() {
        return "SecretText[" + at + (file == null ? ", inline" : ", " + file) + "]";
    }
}
