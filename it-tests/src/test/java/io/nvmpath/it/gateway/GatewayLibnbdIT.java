package io.nvmpath.it.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nvmpath.it.guest.Peers;
import io.nvmpath.server.gateway.Gateway;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * libnbd's tools, qemu-img and fio's nbd engine against the gateway (in this JVM) over the
 * project's target with two paths.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GatewayLibnbdIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration T = Duration.ofSeconds(180);
    private static final long FILE_SIZE = 256L << 20;

    private static NvmeTarget target;
    private static GatewayFixture gw;
    private static Path dir;
    private static String export;

    @BeforeAll
    static void start() throws Exception {
        Peers.assumeTools("nbdinfo", "libnbd-bin", "nbdcopy", "libnbd-bin", "qemu-img", "qemu-utils", "fio", "fio");
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
        gw = GatewayFixture.start(List.of(
                new GatewayFixture.Portal("127.0.0.1", target.port(1), TargetConfig.DEMO_NQN),
                new GatewayFixture.Portal("127.0.0.1", target.port(2), TargetConfig.DEMO_NQN)), "", 2);
        export = Gateway.exportName(TargetConfig.DEMO_NQN, 1);
        dir = Files.createTempDirectory("nvmpath-libnbd-it");
    }

    @AfterAll
    static void stop() throws Exception {
        if (gw != null) {
            gw.close();
        }
        if (target != null) {
            target.close();
        }
        if (dir != null) {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static String uri() {
        return "nbd://127.0.0.1:" + gw.nbdPort() + "/" + export;
    }

    @Test
    @Order(1)
    void nbdinfo_lists_the_export_with_its_size_block_sizes_and_flags() throws Exception {
        Tool.Result list = Tool.run(T, "nbdinfo", "--list", "--json", "nbd://127.0.0.1:" + gw.nbdPort())
                .requireOk("nbdinfo --list");
        JsonNode exports = JSON.readTree(list.out()).get("exports");
        assertThat(exports).hasSize(1);
        JsonNode e = exports.get(0);
        System.out.println("nbdinfo --list --json:\n" + list.out());
        assertThat(e.get("export-name").asText()).isEqualTo(export);
        assertThat(e.get("description").asText()).contains("namespace 1 of " + TargetConfig.DEMO_NQN);
        assertThat(e.get("export-size").asLong()).isEqualTo(1L << 30);
        assertThat(e.get("block_size_minimum").asInt()).isEqualTo(512);
        assertThat(e.get("block_size_preferred").asInt()).isEqualTo(4096);
        int mdts = gw.gateway.multipath().head(TargetConfig.DEMO_NQN, 1).maxTransferBytes();
        assertThat(e.get("block_size_maximum").asInt()).as("one NVMe transfer (MDTS)").isEqualTo(mdts)
                .isEqualTo(1 << 20);
        assertThat(e.get("is_read_only").asBoolean()).isFalse();
        assertThat(e.get("can_flush").asBoolean()).isTrue();
        assertThat(e.get("can_fua").asBoolean()).isTrue();
        assertThat(e.get("can_trim").asBoolean()).isTrue();
        assertThat(e.get("can_zero").asBoolean()).isTrue();
        assertThat(e.get("can_fast_zero").asBoolean()).isTrue();
        assertThat(e.get("can_multi_conn").asBoolean()).isTrue();

        Tool.Result one = Tool.run(T, "nbdinfo", "--json", uri()).requireOk("nbdinfo");
        JsonNode info = JSON.readTree(one.out());
        assertThat(info.get("protocol").asText()).isEqualTo("newstyle-fixed");
        assertThat(info.get("TLS").asBoolean()).isFalse();
        assertThat(info.get("exports").get(0).get("export-size").asLong()).isEqualTo(1L << 30);
        assertThat(Tool.run(T, "nbdinfo", "--size", uri()).requireOk("nbdinfo --size").out().strip())
                .isEqualTo(String.valueOf(1L << 30));
        assertThat(Tool.run(T, "nbdinfo", "--can", "multi-conn", uri()).rc()).isZero();
        Tool.Result missing = Tool.run(T, "nbdinfo", "nbd://127.0.0.1:" + gw.nbdPort() + "/no-such-export");
        assertThat(missing.rc()).isNotZero();
        assertThat(missing.err()).containsIgnoringCase("export");
    }

    @Test
    @Order(2)
    void nbdcopy_in_and_out_keeps_256_MiB_of_random_data_and_qemu_img_compare_agrees() throws Exception {
        Path in = dir.resolve("in.bin");
        Path out = dir.resolve("out.bin");
        byte[] chunk = new byte[1 << 20];
        Random rnd = new Random(42);
        try (var os = Files.newOutputStream(in)) {
            for (long n = 0; n < FILE_SIZE; n += chunk.length) {
                rnd.nextBytes(chunk);
                os.write(chunk);
            }
        }
        Tool.Result up = Tool.run(T, "nbdcopy", "--connections=4", "--flush", in.toString(), uri())
                .requireOk("nbdcopy in");
        Tool.Result down = Tool.run(T, "nbdcopy", "--connections=4", uri(), out.toString()).requireOk("nbdcopy out");
        System.out.printf("nbdcopy 256 MiB in %d ms (%.0f MiB/s), 1 GiB out in %d ms (%.0f MiB/s), 4 connections%n",
                up.millis(), 256e3 / up.millis(), down.millis(), 1024e3 / down.millis());
        assertThat(Files.size(out)).isEqualTo(1L << 30);
        assertThat(sha256(out, FILE_SIZE)).isEqualTo(sha256(in, FILE_SIZE));
        String json = "json:{\"driver\":\"nbd\",\"server\":{\"type\":\"inet\",\"host\":\"127.0.0.1\",\"port\":\""
                + gw.nbdPort() + "\"},\"export\":\"" + export + "\"}";
        Tool.Result cmp = Tool.run(T, "qemu-img", "compare", "-f", "raw", in.toString(), json);
        assertThat(cmp.rc()).as("qemu-img compare: %s %s", cmp.out(), cmp.err()).isZero();
        assertThat(cmp.out()).contains("Images are identical");
        // and a difference is found: one byte changed through the export
        Tool.Result poke = Tool.run(T, "qemu-io", "--image-opts", "-c", "write -P 0x5a 1048576 512",
                "driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=127.0.0.1,file.server.port="
                        + gw.nbdPort() + ",file.export=" + export);
        poke.requireOk("qemu-io write");
        Tool.Result cmp2 = Tool.run(T, "qemu-img", "compare", "-f", "raw", in.toString(), json);
        assertThat(cmp2.rc()).isEqualTo(1);
        assertThat(cmp2.out()).contains("Content mismatch at offset 1048576");
    }

    @Test
    @Order(3)
    void fio_nbd_engine_random_writes_verify_clean() throws Exception {
        Tool.Result fio = Tool.run(Duration.ofSeconds(300), "fio", "--name=verify", "--ioengine=nbd",
                "--uri=" + uri(), "--rw=randwrite", "--bs=4k", "--offset=512m", "--size=64m", "--iodepth=16",
                "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--output-format=json");
        fio.requireOk("fio");
        JsonNode job = JSON.readTree(fio.out().substring(fio.out().indexOf('{'))).get("jobs").get(0);
        assertThat(job.get("error").asInt()).isZero();
        long written = job.get("write").get("io_bytes").asLong();
        long verified = job.get("read").get("io_bytes").asLong();
        System.out.printf("fio nbd verify: %d MiB written, %d MiB read back and verified%n", written >> 20,
                verified >> 20);
        assertThat(written).isEqualTo(64L << 20);
        assertThat(verified).isEqualTo(64L << 20);
    }

    private static String sha256(Path p, long bytes) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (InputStream is = Files.newInputStream(p)) {
            byte[] b = new byte[1 << 20];
            long left = bytes;
            while (left > 0) {
                int n = is.read(b, 0, (int) Math.min(b.length, left));
                if (n < 0) {
                    break;
                }
                md.update(b, 0, n);
                left -= n;
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
