package io.nvmpath.it.deploy;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.exception.NotFoundException;
import io.nvmpath.it.guest.Peers;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.images.ImagePullPolicy;
import org.testcontainers.utility.DockerImageName;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The Docker peer of the deployment tests: a daemon that answers (Testcontainers' client), the
 * project's images built by {@code deploy/build-images.sh}, and never a pull — no registry is in reach
 * here, and a test must run what the build made, not something fetched.
 *
 * <p>A missing daemon or image skips a test on a developer's machine, saying how to get it, and fails
 * it on CI ({@link Peers#required()}), where {@code .ci/run} starts dockerd and builds the images.
 */
public final class DockerPeer {
    /** The gateway's (and the target's) image, as deploy/build-images.sh tags it. */
    public static final String IMAGE = "nvmpath/nvmpath:latest";
    /** Prometheus from Debian's package, for the compose stack. */
    public static final String PROMETHEUS_IMAGE = "nvmpath/prometheus:latest";

    /** Never pulls: an image that is not here is a set-up error, reported by {@link #requireImages}. */
    public static final ImagePullPolicy NEVER_PULL = new ImagePullPolicy() {
        @Override
        public boolean shouldPull(DockerImageName imageName) {
            return false;
        }
    };

    private DockerPeer() {
    }

    /** Skips (locally) or fails (CI) unless a Docker daemon answers and every image is here. */
    public static void requireImages(String... images) {
        if (!DockerClientFactory.instance().isDockerAvailable()) {
            missing("no Docker daemon answers (.ci/run installs docker.io and starts dockerd)");
        }
        DockerClient docker = DockerClientFactory.instance().client();
        for (String image : images) {
            try {
                docker.inspectImageCmd(image).exec();
            } catch (NotFoundException e) {
                missing("image " + image + " is missing: run deploy/build-images.sh (.ci/run does)");
            }
        }
    }

    private static void missing(String message) {
        if (Peers.required()) {
            Assertions.fail(message + " [" + Peers.REQUIRE_PEERS + "=true]");
        }
        Assumptions.assumeTrue(false, message);
    }

    public static DockerClient client() {
        return DockerClientFactory.instance().client();
    }

    /** The repository's deploy folder: system property nvmpath.deploy.dir (failsafe sets it), else found upwards. */
    public static Path deployDir() {
        String p = System.getProperty("nvmpath.deploy.dir");
        if (p != null && !p.isBlank()) {
            return Path.of(p).toAbsolutePath().normalize();
        }
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("deploy/build-images.sh"))) {
                return d.resolve("deploy");
            }
        }
        throw new IllegalStateException("cannot find the deploy folder from " + Path.of("").toAbsolutePath());
    }

    /** A TCP port free on loopback now (for a port a container publishes on the host). */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
