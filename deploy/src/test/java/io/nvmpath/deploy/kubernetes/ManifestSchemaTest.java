package io.nvmpath.deploy.kubernetes;

import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every manifest of deploy/kubernetes reads into its fabric8 model with nothing left over, and the
 * reader is strict enough to make that mean something: the mutations below, each a mistake the API
 * server would refuse, fail here naming the field.
 */
class ManifestSchemaTest {

    static Stream<String> manifests() throws IOException {
        try (Stream<Path> files = Files.list(KubernetesManifests.DIR)) {
            return files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".yaml") && !n.equals("kustomization.yaml"))
                    .sorted().toList().stream();
        }
    }

    /** Each deploy/kubernetes/*.yaml resource: one document, a known kind, every field known to its model. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("manifests")
    void should_read_each_manifest_strictly_into_its_model(String name) {
        HasMetadata resource = KubernetesManifests.parse(KubernetesManifests.text(name));

        assertThat(KubernetesManifests.MODELS).containsValue(resource.getClass());
        assertThat(resource.getMetadata().getLabels())
                .containsEntry("app.kubernetes.io/name", "nvmpath")
                .containsEntry("app.kubernetes.io/component", "gateway");
        assertThat(resource.getMetadata().getNamespace())
                .as("metadata.namespace of %s", name)
                .isEqualTo(resource.getKind().equals("Namespace") ? null : "nvmpath");
        if (resource.getKind().equals("Namespace")) {
            assertThat(resource.getMetadata().getName()).isEqualTo("nvmpath");
        }
    }

    /** kustomization.yaml: every field known to the Kustomization record. */
    @Test
    void should_read_the_kustomization_strictly() {
        KubernetesManifests.Kustomization k = KubernetesManifests.kustomization();

        assertThat(k.apiVersion()).isEqualTo("kustomize.config.k8s.io/v1beta1");
        assertThat(k.kind()).isEqualTo("Kustomization");
        assertThat(k.namespace()).isEqualTo("nvmpath");
    }

    /** daemonset.yaml with {@code containers:} misspelt: an unknown field of PodSpec. */
    @Test
    void should_fail_on_an_unknown_field_instead_of_keeping_it_in_additional_properties() {
        String yaml = daemonSet().replace("      containers:\n", "      contaners:\n");

        assertThat(failure(yaml)).isInstanceOf(UnrecognizedPropertyException.class)
                .hasMessageContaining("\"contaners\"");
        assertThat(KubernetesManifests.fieldPath(failure(yaml))).isEqualTo("spec.template.spec.contaners");
    }

    /** daemonset.yaml with the readiness probe's {@code httpGet} misspelt. */
    @Test
    void should_fail_on_a_misspelt_probe_handler_naming_it() {
        String yaml = replaceAfter(daemonSet(), "readinessProbe:", "httpGet:", "httpGett:");

        assertThat(KubernetesManifests.fieldPath(failure(yaml)))
                .isEqualTo("spec.template.spec.containers[0].readinessProbe.httpGett");
    }

    /** daemonset.yaml with {@code containerPort: "x"}, and with the number quoted: both not an int32. */
    @Test
    void should_fail_on_a_string_where_the_model_has_an_integer() {
        for (String value : List.of("\"x\"", "\"10809\"")) {
            String yaml = daemonSet().replace("containerPort: 10809", "containerPort: " + value);

            assertThat(KubernetesManifests.fieldPath(failure(yaml)))
                    .as("containerPort: %s", value)
                    .isEqualTo("spec.template.spec.containers[0].ports[0].containerPort");
        }
    }

    /** daemonset.yaml with {@code readOnly: "true"} and with an env value unquoted (a number, not a string). */
    @Test
    void should_fail_on_a_quoted_boolean_and_on_a_number_where_the_model_has_a_string() {
        String quotedBoolean = daemonSet().replaceFirst("readOnly: true", "readOnly: \"true\"");
        String numericEnv = daemonSet().replace("value: \"9810\"", "value: 9810");

        assertThat(KubernetesManifests.fieldPath(failure(quotedBoolean)))
                .isEqualTo("spec.template.spec.containers[0].volumeMounts[1].readOnly");
        assertThat(KubernetesManifests.fieldPath(failure(numericEnv)))
                .isEqualTo("spec.template.spec.containers[0].env[0].value");
    }

    /** A manifest of a kind this folder has no model for, and a file of two documents. */
    @Test
    void should_refuse_an_unknown_kind_and_a_second_document() {
        assertThatThrownBy(() -> KubernetesManifests.parse("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("kind Deployment");
        assertThatThrownBy(() -> KubernetesManifests.parse(KubernetesManifests.text("service.yaml") + "---\n"
                + KubernetesManifests.text("namespace.yaml")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("found 2");
    }

    /** kustomization.yaml with a field kustomize would not know here. */
    @Test
    void should_fail_on_an_unknown_field_of_the_kustomization() {
        String yaml = KubernetesManifests.text("kustomization.yaml").replace("resources:", "resource:");

        assertThatThrownBy(() -> KubernetesManifests.strictMapper().readValue(yaml, KubernetesManifests.Kustomization.class))
                .isInstanceOf(UnrecognizedPropertyException.class).hasMessageContaining("\"resource\"");
    }

    /** daemonset.yaml's IntOrString ports (a name, a number) and Quantity sizes survive the strict reader. */
    @Test
    void should_still_read_int_or_string_and_quantity_values() {
        Container c = KubernetesManifests.read("daemonset.yaml", DaemonSet.class)
                .getSpec().getTemplate().getSpec().getContainers().getFirst();

        assertThat(c.getReadinessProbe().getHttpGet().getPort()).isEqualTo(new IntOrString("http"));
        assertThat(c.getResources().getLimits().get("memory")).isEqualTo(new Quantity("512Mi"));
        assertThat(c.getResources().getRequests().get("cpu")).isEqualTo(new Quantity("250m"));
        String numericPort = daemonSet().replaceFirst("port: http", "port: 9810");
        DaemonSet d = (DaemonSet) KubernetesManifests.parse(numericPort);
        assertThat(d.getSpec().getTemplate().getSpec().getContainers().getFirst().getStartupProbe().getHttpGet().getPort())
                .isEqualTo(new IntOrString(9810));
    }

    /** daemonset.yaml's Secret volume mode: YAML 1.1 octal, as the API server's reader takes it. */
    @Test
    void should_read_the_tls_volume_mode_as_octal() {
        DaemonSet d = KubernetesManifests.read("daemonset.yaml", DaemonSet.class);

        assertThat(d.getSpec().getTemplate().getSpec().getVolumes())
                .filteredOn(v -> v.getSecret() != null)
                .singleElement()
                .satisfies(v -> assertThat(v.getSecret().getDefaultMode()).isEqualTo(0440));
    }

    private static String daemonSet() {
        return KubernetesManifests.text("daemonset.yaml");
    }

    private static String replaceAfter(String text, String anchor, String target, String replacement) {
        int from = text.indexOf(anchor);
        int at = text.indexOf(target, from);
        assertThat(from).as(anchor).isNotNegative();
        assertThat(at).as(target + " after " + anchor).isNotNegative();
        return text.substring(0, at) + replacement + text.substring(at + target.length());
    }

    private static JsonMappingException failure(String yaml) {
        try {
            KubernetesManifests.parse(yaml);
        } catch (UncheckedIOException e) {
            assertThat(e.getCause()).isInstanceOf(JsonMappingException.class);
            return (JsonMappingException) e.getCause();
        }
        throw new AssertionError("the strict reader accepted:\n" + yaml);
    }
}
