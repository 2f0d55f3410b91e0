package io.nvmpath.deploy.kubernetes;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the image promises, read from deploy/docker/Dockerfile and deploy/build-images.sh, so that the
 * manifests are checked against the image as built and not against a copy of its numbers.
 *
 * @param exposedPorts the Dockerfile's EXPOSE ports
 * @param uid the Dockerfile's USER (its uid part)
 * @param volumes the Dockerfile's VOLUME paths
 * @param tags every {@code -t repository:tag} that build-images.sh builds
 */
record ImageBuild(Set<Integer> exposedPorts, int uid, Set<String> volumes, Set<String> tags) {
    private static final Path DEPLOY = Path.of("").toAbsolutePath();
    private static final Pattern TAG = Pattern.compile("-t\\s+\"?([a-z0-9][a-z0-9._/-]*:[A-Za-z0-9_.${}-]+)\"?");

    /** The image as deploy/docker/Dockerfile and deploy/build-images.sh make it. */
    static ImageBuild read() {
        List<String[]> instructions = instructions(read(DEPLOY.resolve("docker/Dockerfile")));
        Set<Integer> ports = new LinkedHashSet<>();
        Set<String> volumes = new LinkedHashSet<>();
        Integer uid = null;
        for (String[] i : instructions) {
            switch (i[0]) {
                case "EXPOSE" -> {
                    for (String p : i[1].split("\\s+")) {
                        ports.add(Integer.parseInt(p.replaceFirst("/tcp$", "")));
                    }
                }
                case "USER" -> uid = Integer.parseInt(i[1].split(":", 2)[0]);
                case "VOLUME" -> {
                    String v = i[1].strip();
                    for (String p : v.startsWith("[") ? v.substring(1, v.length() - 1).split(",") : v.split("\\s+")) {
                        volumes.add(p.strip().replace("\"", ""));
                    }
                }
                default -> {
                }
            }
        }
        if (uid == null) {
            throw new IllegalStateException("the Dockerfile has no USER");
        }
        Set<String> tags = new LinkedHashSet<>();
        Matcher m = TAG.matcher(read(DEPLOY.resolve("build-images.sh")));
        while (m.find()) {
            tags.add(m.group(1));
        }
        return new ImageBuild(Set.copyOf(ports), uid, Set.copyOf(volumes), Set.copyOf(tags));
    }

    /** The instructions as {keyword, arguments}: comments dropped, continued lines joined. */
    private static List<String[]> instructions(String dockerfile) {
        List<String[]> out = new ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (String l : dockerfile.split("\n")) {
            if (l.strip().startsWith("#") && line.isEmpty()) {
                continue;
            }
            if (l.endsWith("\\")) {
                line.append(l, 0, l.length() - 1).append(' ');
                continue;
            }
            line.append(l);
            String s = line.toString().strip();
            line.setLength(0);
            if (!s.isEmpty()) {
                String[] kw = s.split("\\s+", 2);
                out.add(new String[] {kw[0].toUpperCase(java.util.Locale.ROOT), kw.length > 1 ? kw[1] : ""});
            }
        }
        return out;
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
