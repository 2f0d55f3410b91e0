package io.nvmpath.deploy.kubernetes;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.deser.BeanDeserializerBuilder;
import com.fasterxml.jackson.databind.deser.BeanDeserializerModifier;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.openshift.api.model.monitoring.v1.PodMonitor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The manifests of {@code deploy/kubernetes}, read as strictly as the API server decodes them: each
 * file is one resource, read into the fabric8 model of its apiVersion and kind, where an unknown
 * field or a value of the wrong type is an error that names the field — not an entry in the model's
 * {@code additionalProperties}, nor a string quietly turned into a number.
 */
final class KubernetesManifests {
    /** deploy/kubernetes, from the deploy module's directory (surefire's working directory). */
    static final Path DIR = Path.of("kubernetes").toAbsolutePath();

    /** The models by apiVersion and kind; any other kind is refused. */
    static final Map<Kind, Class<? extends HasMetadata>> MODELS = Map.of(
            new Kind("v1", "Namespace"), Namespace.class,
            new Kind("v1", "ConfigMap"), ConfigMap.class,
            new Kind("v1", "Secret"), Secret.class,
            new Kind("v1", "Service"), Service.class,
            new Kind("apps/v1", "DaemonSet"), DaemonSet.class,
            new Kind("monitoring.coreos.com/v1", "PodMonitor"), PodMonitor.class);

    /** A resource type as a manifest names it. */
    record Kind(String apiVersion, String kind) {
    }

    /**
     * kustomization.yaml, by the fields this folder uses; kustomize has no fabric8 model, and a field
     * not listed here fails as in any other manifest.
     */
    record Kustomization(String apiVersion, String kind, String namespace, List<String> resources,
                         List<Image> images) {
        /** An image override: {@code name} is the repository the manifests name. */
        record Image(String name, String newName, String newTag, String digest) {
        }
    }

    private static final ObjectMapper STRICT = strictMapper();

    private KubernetesManifests() {
    }

    /**
     * Jackson as strict as the API server: unknown fields fail (the models' any-setter removed, since
     * it would take them into {@code additionalProperties}), and so do scalars of the wrong type
     * ({@code containerPort: "10809"}, {@code readOnly: "true"}, {@code value: 9810}); duplicate keys
     * fail too. IntOrString and Quantity keep their own deserializers, which take either shape.
     */
    static ObjectMapper strictMapper() {
        SimpleModule strict = new SimpleModule("strict-kubernetes").setDeserializerModifier(new BeanDeserializerModifier() {
            @Override
            public BeanDeserializerBuilder updateBuilder(DeserializationConfig config, BeanDescription bean,
                                                         BeanDeserializerBuilder builder) {
                builder.setAnySetter(null);
                builder.setIgnoreUnknownProperties(false);
                return builder;
            }
        });
        YAMLMapper mapper = YAMLMapper.builder(YAMLFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build())
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                .addModule(strict)
                .build();
        for (LogicalType number : List.of(LogicalType.Integer, LogicalType.Float, LogicalType.Boolean)) {
            mapper.coercionConfigFor(number)
                    .setCoercion(CoercionInputShape.String, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.EmptyString, CoercionAction.Fail);
        }
        mapper.coercionConfigFor(LogicalType.Textual)
                .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail);
        return mapper;
    }

    /** The text of {@code name} in deploy/kubernetes. */
    static String text(String name) {
        try {
            return Files.readString(DIR.resolve(name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The resource in {@code name}, read strictly into its model. */
    static <T extends HasMetadata> T read(String name, Class<T> model) {
        return model.cast(parse(text(name)));
    }

    /** kustomization.yaml, read strictly. */
    static Kustomization kustomization() {
        try {
            return STRICT.readValue(text("kustomization.yaml"), Kustomization.class);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * One manifest, read strictly into the model its apiVersion and kind name.
     *
     * @throws IllegalArgumentException a kind without a model, or not exactly one document
     * @throws UncheckedIOException the model refused it; the cause is a {@link JsonMappingException}
     */
    static HasMetadata parse(String yaml) {
        try {
            List<JsonNode> documents = STRICT.readerFor(JsonNode.class).<JsonNode>readValues(yaml).readAll();
            if (documents.size() != 1) {
                throw new IllegalArgumentException("expected one resource per file, found " + documents.size());
            }
            JsonNode doc = documents.getFirst();
            Kind kind = new Kind(doc.path("apiVersion").asText(), doc.path("kind").asText());
            Class<? extends HasMetadata> model = MODELS.get(kind);
            if (model == null) {
                throw new IllegalArgumentException("no model for apiVersion " + kind.apiVersion() + ", kind "
                        + kind.kind() + " (known: " + MODELS.keySet() + ")");
            }
            return STRICT.readValue(yaml, model);
        } catch (IOException e) {
            throw new UncheckedIOException(describe(e), e);
        }
    }

    /** "spec.template.spec.containers[0].ports[0].containerPort: Cannot coerce ..." */
    static String describe(IOException e) {
        if (!(e instanceof JsonMappingException m) || m.getPath().isEmpty()) {
            return e.getMessage();
        }
        return fieldPath(m) + ": " + m.getOriginalMessage();
    }

    /** The field a mapping error is at, as a manifest spells it: {@code spec.containers[0].name}. */
    static String fieldPath(JsonMappingException e) {
        StringBuilder at = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getIndex() >= 0) {
                at.append('[').append(r.getIndex()).append(']');
            } else {
                at.append(at.isEmpty() ? "" : ".").append(r.getFieldName());
            }
        }
        return at.toString();
    }
}
