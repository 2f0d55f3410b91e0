package io.nvmpath.deploy.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.HTTPGetAction;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.openshift.api.model.monitoring.v1.PodMetricsEndpoint;
import io.fabric8.openshift.api.model.monitoring.v1.PodMonitor;
import io.nvmpath.server.gateway.GatewayConfig;
import io.nvmpath.server.gateway.GatewayConfigLoader;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The manifests agree with what they run: the image that deploy/build-images.sh builds from
 * deploy/docker/Dockerfile (its tag, ports, user, volume), the gateway's configuration reader
 * ({@link GatewayConfigLoader} loads the ConfigMap as the pod would see it), the serve command's
 * options, and each other (selectors, port names, the kustomization's list).
 */
class ManifestCrossCheckTest {
    private static final String POD = "the gateway pod (daemonset.yaml)";

    private static DaemonSet daemonSet;
    private static PodSpec pod;
    private static Container gateway;
    private static ConfigMap configMap;
    private static Secret secret;
    private static ImageBuild image;
    /** The ConfigMap's gateway.yaml as loaded in the pod, its absolute file names moved under {@link #root}. */
    private static GatewayConfig config;
    /** The pod's file system: every volume mount made under it, filled from the ConfigMap and the Secret. */
    @TempDir
    static Path root;

    @BeforeAll
    static void readManifests() throws Exception {
        daemonSet = KubernetesManifests.read("daemonset.yaml", DaemonSet.class);
        pod = daemonSet.getSpec().getTemplate().getSpec();
        assertThat(pod.getContainers()).hasSize(1);
        gateway = pod.getContainers().getFirst();
        configMap = KubernetesManifests.read("configmap.yaml", ConfigMap.class);
        secret = KubernetesManifests.read("secret-tls.yaml", Secret.class);
        image = ImageBuild.read();
        config = loadAsThePodSeesIt();
    }

    /** daemonset.yaml and kustomization.yaml name the image that deploy/build-images.sh tags. */
    @Test
    void should_run_the_image_that_build_images_tags() {
        String[] ref = gateway.getImage().split(":", 2);
        KubernetesManifests.Kustomization.Image override = KubernetesManifests.kustomization().images().getFirst();

        assertThat(image.tags()).contains(gateway.getImage());
        assertThat(ref[0]).isEqualTo("nvmpath/nvmpath");
        assertThat(override.name()).isEqualTo(ref[0]);
        assertThat(override.newTag()).isEqualTo(ref[1]);
        assertThat(override.newName()).isNull();
        assertThat(gateway.getImagePullPolicy()).isEqualTo("IfNotPresent");
    }

    /** daemonset.yaml's ports: ones the Dockerfile EXPOSEs, and the ports gateway.yaml listens on. */
    @Test
    void should_open_the_ports_that_the_image_exposes_and_the_gateway_listens_on() {
        ContainerPort nbd = port("nbd");
        ContainerPort http = port("http");

        assertThat(image.exposedPorts()).contains(nbd.getContainerPort(), http.getContainerPort());
        assertThat(nbd.getContainerPort()).isEqualTo(config.nbd().listen().port());
        assertThat(http.getContainerPort()).isEqualTo(config.http().port());
        // a pod's port is reached on its pod address, not on its loopback
        assertThat(config.nbd().listen().address()).isEqualTo("0.0.0.0");
        assertThat(config.http().address()).isEqualTo("0.0.0.0");
        // nbd-client 127.0.0.1 10809 on the node; the admin API stays off the node's addresses
        assertThat(nbd.getHostPort()).isEqualTo(nbd.getContainerPort());
        assertThat(http.getHostPort()).isNull();
        assertThat(gateway.getPorts()).extracting(ContainerPort::getProtocol).containsOnly("TCP");
    }

    /** daemonset.yaml's probes: /ready and /health on the port named http; the image's check uses the same port. */
    @Test
    void should_probe_ready_and_health_on_the_http_port() {
        assertThat(probe(gateway.getReadinessProbe().getHttpGet())).isEqualTo("http /ready");
        assertThat(probe(gateway.getLivenessProbe().getHttpGet())).isEqualTo("http /health");
        assertThat(probe(gateway.getStartupProbe().getHttpGet())).isEqualTo("http /health");
        assertThat(gateway.getEnv()).filteredOn(e -> e.getName().equals("NVMPATH_HEALTH_PORT"))
                .singleElement()
                .satisfies(e -> assertThat(e.getValue()).isEqualTo(String.valueOf(port("http").getContainerPort())));
    }

    /** daemonset.yaml's security context: the Dockerfile's USER, no privileges, nothing of the host but two holes. */
    @Test
    void should_run_as_the_image_user_without_privileges() {
        SecurityContext c = gateway.getSecurityContext();

        assertThat(pod.getSecurityContext().getRunAsUser()).isEqualTo(image.uid());
        assertThat(c.getRunAsUser()).isEqualTo(image.uid());
        assertThat(c.getRunAsGroup()).isZero();
        assertThat(c.getRunAsNonRoot()).isTrue();
        assertThat(c.getAllowPrivilegeEscalation()).isFalse();
        assertThat(c.getReadOnlyRootFilesystem()).isTrue();
        assertThat(c.getPrivileged()).isNotEqualTo(Boolean.TRUE);
        assertThat(c.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(c.getCapabilities().getAdd()).isNullOrEmpty();
        assertThat(c.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
        assertThat(pod.getHostNetwork()).isFalse();
        assertThat(pod.getHostPID()).isNotEqualTo(Boolean.TRUE);
        assertThat(pod.getHostIPC()).isNotEqualTo(Boolean.TRUE);
        // the one root process: the init container that hands the state directory to the image's uid,
        // with CAP_CHOWN alone, on a read-only root
        assertThat(pod.getInitContainers()).singleElement().satisfies(init -> {
            SecurityContext i = init.getSecurityContext();
            assertThat(init.getImage()).isEqualTo(gateway.getImage());
            assertThat(String.join(" ", init.getCommand())).endsWith("chown " + image.uid() + ":0 /var/lib/nvmpath");
            assertThat(i.getCapabilities().getDrop()).containsExactly("ALL");
            assertThat(i.getCapabilities().getAdd()).containsExactly("CHOWN");
            assertThat(i.getAllowPrivilegeEscalation()).isFalse();
            assertThat(i.getReadOnlyRootFilesystem()).isTrue();
            assertThat(i.getPrivileged()).isNotEqualTo(Boolean.TRUE);
            assertThat(init.getVolumeMounts()).extracting(VolumeMount::getName).containsExactly("state");
        });
        assertThat(pod.getTolerations()).isNullOrEmpty();
        assertThat(pod.getVolumes()).filteredOn(v -> v.getHostPath() != null)
                .extracting(Volume::getName).containsExactly("state");
    }

    /** daemonset.yaml's state volume: the Dockerfile's VOLUME, on the node, holding gateway.yaml's host.stateFile. */
    @Test
    void should_keep_the_host_identity_on_the_node_at_the_image_volume() {
        VolumeMount state = mount("state");
        Volume volume = volume("state");

        assertThat(image.volumes()).contains(state.getMountPath());
        assertThat(volume.getHostPath().getPath()).isEqualTo(state.getMountPath());
        assertThat(volume.getHostPath().getType()).isEqualTo("DirectoryOrCreate");
        assertThat(state.getReadOnly()).isNotEqualTo(Boolean.TRUE);
        assertThat(inPod(config.host().stateFile())).startsWithRaw(Path.of(state.getMountPath()));
    }

    /** configmap.yaml's gateway.yaml loads with GatewayConfigLoader where the pod has it (serve --config). */
    @Test
    void should_load_the_configmap_with_the_gateway_config_loader() {
        assertThat(config.portals()).hasSizeGreaterThanOrEqualTo(2)
                .allSatisfy(p -> assertThat(p.discovery()).isFalse());
        assertThat(config.portals()).extracting(GatewayConfig.Portal::subnqn).containsOnly(
                config.portals().getFirst().subnqn());
        assertThat(config.nbd().tls().mode()).isEqualTo("require");
        assertThat(config.nbd().allow()).isNotEmpty();
    }

    /** configmap.yaml's TLS files (certificate, key, clientCa): absolute, under a mount, and keys of secret-tls.yaml. */
    @Test
    void should_name_only_tls_files_that_the_secret_mounts() {
        GatewayConfig.Tls tls = config.nbd().tls();

        for (Path file : List.of(tls.certificate(), tls.key(), tls.clientCa())) {
            Path inPod = inPod(file);
            VolumeMount m = mountHolding(inPod);
            Volume v = volume(m.getName());
            assertThat(v.getSecret()).as("the volume at %s, holding %s", m.getMountPath(), inPod).isNotNull();
            assertThat(v.getSecret().getSecretName()).isEqualTo(secret.getMetadata().getName());
            assertThat(secret.getData()).containsKey(Path.of(m.getMountPath()).relativize(inPod).toString());
            assertThat(m.getReadOnly()).isTrue();
        }
        assertThat(secret.getType()).isEqualTo("kubernetes.io/tls");
        assertThat(secret.getData()).containsOnlyKeys("tls.crt", "tls.key", "ca.crt")
                .allSatisfy((k, v) -> assertThat(v).as("no key material in git: %s", k).isEmpty());
    }

    /** daemonset.yaml's args: the serve command and options it has; its --config file is the ConfigMap's key. */
    @Test
    void should_pass_only_arguments_that_the_serve_command_knows() throws ClassNotFoundException {
        Class<?> serve = Class.forName("io.nvmpath.server.cli.ServeCommand");
        Set<String> options = new HashSet<>();
        for (Field f : serve.getDeclaredFields()) {
            CommandLine.Option o = f.getAnnotation(CommandLine.Option.class);
            if (o != null) {
                options.addAll(List.of(o.names()));
            }
        }
        List<String> args = gateway.getArgs();

        assertThat(gateway.getCommand()).as("the image's ENTRYPOINT runs").isNullOrEmpty();
        assertThat(args.getFirst()).isEqualTo(serve.getAnnotation(CommandLine.Command.class).name());
        assertThat(args.subList(1, args.size())).filteredOn(a -> a.startsWith("-")).isSubsetOf(options);
        Path file = Path.of(args.get(args.indexOf("--config") + 1));
        VolumeMount m = mountHolding(file);
        assertThat(volume(m.getName()).getConfigMap().getName()).isEqualTo(configMap.getMetadata().getName());
        assertThat(volume(m.getName()).getConfigMap().getItems()).extracting(KeyToPath::getKey, KeyToPath::getPath)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("gateway.yaml",
                        Path.of(m.getMountPath()).relativize(file).toString()));
    }

    /** daemonset.yaml's grace period: longer than the serve command's default --drain-timeout. */
    @Test
    void should_give_the_pod_longer_to_stop_than_the_gateway_drains() throws ReflectiveOperationException {
        Field drain = Class.forName("io.nvmpath.server.cli.ServeCommand").getDeclaredField("drainSeconds");
        long drainSeconds = Long.parseLong(drain.getAnnotation(CommandLine.Option.class).defaultValue());

        assertThat(pod.getTerminationGracePeriodSeconds()).isGreaterThan(drainSeconds);
        assertThat(gateway.getArgs()).doesNotContain("--drain-timeout");
        // a draining gateway answers /health with 503: liveness must not end the drain
        var liveness = gateway.getLivenessProbe();
        assertThat((long) liveness.getPeriodSeconds() * liveness.getFailureThreshold()).isGreaterThan(drainSeconds);
    }

    /** daemonset.yaml's memory: a limit (the launcher sizes heap and direct memory by it), requested whole. */
    @Test
    void should_set_the_memory_limit_that_the_launcher_sizes_the_jvm_by() {
        Quantity limit = gateway.getResources().getLimits().get("memory");

        assertThat(limit).isEqualTo(new Quantity("512Mi"));
        assertThat(Quantity.getAmountInBytes(gateway.getResources().getRequests().get("memory")))
                .isEqualByComparingTo(Quantity.getAmountInBytes(limit));
    }

    /** daemonset.yaml's update strategy: one node's gateway at a time. */
    @Test
    void should_replace_one_node_gateway_at_a_time() {
        assertThat(daemonSet.getSpec().getUpdateStrategy().getType()).isEqualTo("RollingUpdate");
        assertThat(daemonSet.getSpec().getUpdateStrategy().getRollingUpdate().getMaxUnavailable())
                .isEqualTo(new IntOrString(1));
    }

    /** daemonset.yaml's, service.yaml's and podmonitor.yaml's selectors: the gateway pods' labels. */
    @Test
    void should_select_the_gateway_pods_from_the_daemonset_service_and_pod_monitor() {
        Map<String, String> labels = daemonSet.getSpec().getTemplate().getMetadata().getLabels();
        Service service = KubernetesManifests.read("service.yaml", Service.class);
        PodMonitor monitor = KubernetesManifests.read("podmonitor.yaml", PodMonitor.class);

        assertThat(labels).containsAllEntriesOf(daemonSet.getSpec().getSelector().getMatchLabels());
        assertThat(daemonSet.getSpec().getSelector().getMatchExpressions()).isNullOrEmpty();
        assertThat(service.getSpec().getSelector()).isNotEmpty();
        assertThat(labels).containsAllEntriesOf(service.getSpec().getSelector());
        assertThat(monitor.getSpec().getSelector().getMatchLabels()).isNotEmpty();
        assertThat(labels).containsAllEntriesOf(monitor.getSpec().getSelector().getMatchLabels());
        assertThat(monitor.getSpec().getSelector().getMatchExpressions()).isNullOrEmpty();
    }

    /** service.yaml: headless, its ports the container's by name and number. */
    @Test
    void should_give_the_headless_service_the_container_ports() {
        Service service = KubernetesManifests.read("service.yaml", Service.class);

        assertThat(service.getSpec().getClusterIP()).isEqualTo("None");
        assertThat(service.getSpec().getPorts()).extracting(ServicePort::getName).containsExactlyInAnyOrder("nbd", "http");
        for (ServicePort p : service.getSpec().getPorts()) {
            assertThat(p.getTargetPort()).isEqualTo(new IntOrString(p.getName()));
            assertThat(p.getPort()).isEqualTo(port(p.getName()).getContainerPort());
        }
    }

    /** podmonitor.yaml: /metrics on the container's http port, every 15 s. */
    @Test
    void should_scrape_metrics_on_the_container_http_port() {
        PodMonitor monitor = KubernetesManifests.read("podmonitor.yaml", PodMonitor.class);

        assertThat(monitor.getSpec().getPodMetricsEndpoints()).singleElement().satisfies((PodMetricsEndpoint e) -> {
            assertThat(e.getPort()).isEqualTo("http");
            assertThat(port(e.getPort())).isNotNull();
            assertThat(e.getPath()).isEqualTo("/metrics");
            assertThat(e.getInterval()).isEqualTo("15s");
        });
    }

    /** kustomization.yaml: lists every resource file of deploy/kubernetes, and only files that exist. */
    @Test
    void should_list_every_manifest_in_the_kustomization() throws IOException {
        List<String> resources = KubernetesManifests.kustomization().resources();
        List<String> files;
        try (Stream<Path> s = Files.list(KubernetesManifests.DIR)) {
            files = s.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".yaml") || n.endsWith(".yml"))
                    .filter(n -> !n.equals("kustomization.yaml")).toList();
        }

        assertThat(resources).doesNotHaveDuplicates()
                .allSatisfy(r -> assertThat(KubernetesManifests.DIR.resolve(r)).isRegularFile());
        assertThat(resources).containsExactlyInAnyOrderElementsOf(files);
    }

    private static ContainerPort port(String name) {
        return gateway.getPorts().stream().filter(p -> name.equals(p.getName())).findFirst()
                .orElseThrow(() -> new AssertionError(POD + " has no port named " + name));
    }

    private static VolumeMount mount(String name) {
        return gateway.getVolumeMounts().stream().filter(m -> m.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(POD + " mounts no volume " + name));
    }

    private static Volume volume(String name) {
        return pod.getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(POD + " has no volume " + name));
    }

    /** The innermost mount whose path holds {@code file} (a path in the pod). */
    private static VolumeMount mountHolding(Path file) {
        return gateway.getVolumeMounts().stream()
                .filter(m -> file.startsWith(Path.of(m.getMountPath())) && !file.equals(Path.of(m.getMountPath())))
                .max(Comparator.comparingInt(m -> Path.of(m.getMountPath()).getNameCount()))
                .orElseThrow(() -> new AssertionError(file + " lies under no volume mount of " + POD));
    }

    private static String probe(HTTPGetAction get) {
        assertThat(get.getScheme()).isIn(null, "HTTP");
        return get.getPort().getStrVal() + " " + get.getPath();
    }

    /** A path the loader saw under {@link #root}, as the pod sees it. */
    private static Path inPod(Path loaded) {
        assertThat(loaded).as("a file name in gateway.yaml must be absolute").startsWithRaw(root);
        return Path.of("/").resolve(root.relativize(loaded));
    }

    /**
     * Lays out the container's mounts under {@link #root} (the ConfigMap's and the Secret's keys as
     * files, the other volumes empty), moves every absolute file name in gateway.yaml under it, and
     * loads the result: the loader then finds the TLS files only if the pod would.
     */
    private static GatewayConfig loadAsThePodSeesIt() throws Exception {
        List<VolumeMount> mounts = new ArrayList<>(gateway.getVolumeMounts());
        mounts.sort(Comparator.comparingInt(m -> Path.of(m.getMountPath()).getNameCount()));
        for (VolumeMount m : mounts) {
            Path dir = under(m.getMountPath());
            Files.createDirectories(dir);
            Volume v = volume(m.getName());
            if (v.getConfigMap() != null) {
                assertThat(v.getConfigMap().getName()).isEqualTo(configMap.getMetadata().getName());
                for (KeyToPath item : v.getConfigMap().getItems()) {
                    assertThat(configMap.getData()).containsKey(item.getKey());
                    Files.writeString(dir.resolve(item.getPath()), configMap.getData().get(item.getKey()));
                }
            } else if (v.getSecret() != null) {
                assertThat(v.getSecret().getSecretName()).isEqualTo(secret.getMetadata().getName());
                assertThat(v.getSecret().getItems()).isNullOrEmpty();
                for (Map.Entry<String, String> e : secret.getData().entrySet()) {
                    Files.write(dir.resolve(e.getKey()), Base64.getDecoder().decode(e.getValue()));
                }
                // the committed Secret holds no key: fill it as cert-manager or `kubectl create secret` would
                // (the gateway checks that the key belongs to the certificate)
                io.netty.pkitesting.X509Bundle ca = new io.netty.pkitesting.CertificateBuilder().subject("CN=test CA")
                        .setIsCertificateAuthority(true).algorithm(io.netty.pkitesting.CertificateBuilder.Algorithm.ecp256)
                        .buildSelfSigned();
                io.netty.pkitesting.X509Bundle server = new io.netty.pkitesting.CertificateBuilder()
                        .subject("CN=nvmpath-gateway").algorithm(io.netty.pkitesting.CertificateBuilder.Algorithm.ecp256)
                        .buildIssuedBy(ca);
                Files.writeString(dir.resolve("tls.crt"), server.getCertificatePEM());
                Files.writeString(dir.resolve("tls.key"), server.getPrivateKeyPEM());
                Files.writeString(dir.resolve("ca.crt"), ca.getCertificatePEM());
            }
        }
        List<String> args = gateway.getArgs();
        Path inPod = under(args.get(args.indexOf("--config") + 1));
        YAMLMapper yaml = new YAMLMapper();
        JsonNode tree = yaml.readTree(Files.readString(inPod));
        rebase(tree);
        Path rebased = root.resolve("gateway.rebased.yaml");
        yaml.writeValue(rebased.toFile(), tree);
        return GatewayConfigLoader.load(rebased);
    }

    /** Moves every absolute file name (a string starting with "/") under {@link #root}. */
    private static void rebase(JsonNode node) {
        if (node instanceof ObjectNode o) {
            for (Map.Entry<String, JsonNode> e : o.properties()) {
                if (e.getValue().isTextual() && e.getValue().textValue().startsWith("/")) {
                    o.set(e.getKey(), TextNode.valueOf(under(e.getValue().textValue()).toString()));
                } else {
                    rebase(e.getValue());
                }
            }
        } else if (node.isArray()) {
            node.forEach(ManifestCrossCheckTest::rebase);
        }
    }

    private static Path under(String absolute) {
        assertThat(absolute).startsWith("/");
        return root.resolve(absolute.substring(1));
    }
}
