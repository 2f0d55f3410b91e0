package io.nvmpath.target.admin;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nvmpath.fabric.host.Commands;
import io.nvmpath.fabric.host.Controller;
import io.nvmpath.fabric.host.ControllerOptions;
import io.nvmpath.fabric.host.TransportAddress;
import io.nvmpath.fabric.nvme.AnaState;
import io.nvmpath.target.Fault;
import io.nvmpath.target.NvmeTarget;
import io.nvmpath.target.config.TargetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The admin endpoint over HTTP against a running demo target, both on ephemeral ports. */
class AdminServerTest {
    private NvmeTarget target;
    private AdminServer admin;
    private HttpClient http;

    @BeforeEach
    void start() throws Exception {
        target = NvmeTarget.start(TargetConfig.demo(0, 0, 0, 0));
        admin = AdminServer.start(target);
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

    @AfterEach
    void stop() {
        http.close();
        admin.close();
        target.close();
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(admin.uri().resolve(path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String path, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(admin.uri().resolve(path))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode json(HttpResponse<String> r) throws Exception {
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json; charset=utf-8");
        return TargetJson.MAPPER.readTree(r.body());
    }

    @Test
    void should_answer_health_with_ok() throws Exception {
        HttpResponse<String> r = get("/health");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("ok");
    }

    @Test
    void should_bind_loopback_on_a_free_port_when_asked_for_port_0() {
        assertThat(admin.address()).isEqualTo("127.0.0.1");
        assertThat(admin.port()).isPositive();
        assertThat(admin.uri()).isEqualTo(URI.create("http://127.0.0.1:" + admin.port()));
    }

    @Test
    void should_show_ports_controllers_and_the_discovery_port() throws Exception {
        HttpResponse<String> r = get("/api/v1/target");

        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode t = json(r);
        assertThat(t.get("discoveryPort").intValue()).isEqualTo(target.discoveryPort());
        assertThat(t.get("controllers")).isEmpty();
        JsonNode p1 = t.get("ports").get(0);
        assertThat(p1.get("id").intValue()).isEqualTo(1);
        assertThat(p1.get("address").textValue()).isEqualTo("127.0.0.1");
        assertThat(p1.get("port").intValue()).isEqualTo(target.port(1));
        assertThat(p1.get("subsystems").get(0).textValue()).isEqualTo(TargetConfig.DEMO_NQN);
        assertThat(p1.get("anaStates").get("1").textValue()).isEqualTo("optimized");
        assertThat(p1.get("fault").textValue()).isEqualTo("none");
        assertThat(p1.get("connections").intValue()).isZero();
        assertThat(t.get("ports").get(1).get("anaStates").get("1").textValue()).isEqualTo("non-optimized");
    }

    @Test
    void should_flip_the_ana_state_of_a_port_named_by_its_id() throws Exception {
        HttpResponse<String> r = post("/api/v1/ports/1/ana", "{\"group\": 1, \"state\": \"inaccessible\"}");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(target.anaState(1, 1)).isEqualTo(AnaState.INACCESSIBLE);
        JsonNode port = json(r);
        assertThat(port.get("id").intValue()).isEqualTo(1);
        assertThat(port.get("anaStates").get("1").textValue()).isEqualTo("inaccessible");
    }

    @Test
    void should_flip_the_ana_state_of_a_port_named_by_its_tcp_port_with_group_1_by_default() throws Exception {
        int tcp = target.port(2);

        HttpResponse<String> r = post("/api/v1/ports/" + tcp + "/ana", "{\"state\": \"optimized\"}");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(target.anaState(2, 1)).isEqualTo(AnaState.OPTIMIZED);
        assertThat(json(r).get("id").intValue()).isEqualTo(2);
    }

    @Test
    void should_tell_a_connected_host_the_new_ana_state() throws Exception {
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (Controller c = Controller.connect(new TransportAddress("127.0.0.1", target.port(1)),
                TargetConfig.DEMO_NQN, new ControllerOptions(), loops).get(10, TimeUnit.SECONDS)) {
            JsonNode before = json(get("/api/v1/target"));
            assertThat(before.get("controllers")).hasSize(1);
            assertThat(before.get("controllers").get(0).get("portId").intValue()).isEqualTo(1);
            assertThat(before.get("controllers").get(0).get("subsystem").textValue()).isEqualTo(TargetConfig.DEMO_NQN);
            assertThat(before.get("ports").get(0).get("connections").intValue()).isPositive();

            post("/api/v1/ports/1/ana", "{\"group\": 1, \"state\": \"persistent-loss\"}");

            assertThat(c.anaLog(false).get(5, TimeUnit.SECONDS).group(1).state())
                    .isEqualTo(AnaState.PERSISTENT_LOSS);
        } finally {
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"blackhole, blackhole", "delay 200, delay 200", "fail 5 0x302, fail 5 0x302",
            "'  DOWN ', down", "throttle 2000iops, throttle 2000iops", "throttle 50 MiB/s, throttle 50MiB/s", "ghost-writes 500, ghost-writes 500"})
    void should_apply_a_fault_and_show_it_on_the_port(String fault, String label) throws Exception {
        HttpResponse<String> r = post("/api/v1/ports/2/fault", "{\"fault\": \"" + fault + "\"}");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(target.fault(2)).isEqualTo(Fault.parse(fault));
        assertThat(json(r).get("fault").textValue()).startsWith(label);
    }

    @Test
    void should_clear_a_fault_and_rebind_a_port_that_was_down() throws Exception {
        int tcp = target.port(1);
        post("/api/v1/ports/1/fault", "{\"fault\": \"down\"}");
        assertThatThrownBy(() -> new Socket("127.0.0.1", tcp).close()).hasMessageContaining("refused");

        HttpResponse<String> r = post("/api/v1/ports/1/fault", "{\"fault\": \"clear\"}");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(json(r).get("fault").textValue()).isEqualTo("none");
        assertThat(target.fault(1)).isEqualTo(Fault.NONE);
        try (Socket s = new Socket("127.0.0.1", tcp)) {
            assertThat(s.isConnected()).isTrue();
        }
    }

    @Test
    void should_cut_the_connections_of_a_port_and_let_the_host_back_in() throws Exception {
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (Controller c = Controller.connect(new TransportAddress("127.0.0.1", target.port(1)),
                TargetConfig.DEMO_NQN, new ControllerOptions().ioQueues(1).holdIoWhileReconnecting(true), loops)
                .get(10, TimeUnit.SECONDS)) {
            int before = c.cntlid();

            HttpResponse<String> r = post("/api/v1/ports/1/cut", "");

            assertThat(r.statusCode()).isEqualTo(200);
            JsonNode port = json(r);
            // this host's admin and I/O queue, not the connection it opens again while they close
            assertThat(port.get("cut").intValue()).as("admin and I/O queue").isEqualTo(2);
            assertThat(port.get("fault").textValue()).as("no fault: new connections are welcome").isEqualTo("none");
            assertThat(target.whenControllerGone(TargetConfig.DEMO_NQN, before)).succeedsWithin(Duration.ofSeconds(5));
            // the host reconnects at once, to a new controller
            assertThat(c.io(Commands.flush(1), "flush").get(10, TimeUnit.SECONDS).ok()).isTrue();
            assertThat(c.cntlid()).isNotEqualTo(before);
            assertThat(post("/api/v1/ports/1/cut", "{\"now\": true}").statusCode()).as("no fields").isEqualTo(400);
        } finally {
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', textBlock = """
            # what                    | path                          | body                                      | error
            an unknown port           | /api/v1/ports/9999/ana        | '{"state": "inaccessible"}'               | no port with ID or TCP port 9999
            a port that is no number  | /api/v1/ports/one/fault       | '{"fault": "down"}'                       | '"one" is not a port ID or TCP port number'
            an unknown ANA state      | /api/v1/ports/1/ana           | '{"state": "broken"}'                     | '"broken" is not an ANA state (optimized, non-optimized, inaccessible, persistent-loss, change)'
            an ANA group out of range | /api/v1/ports/1/ana           | '{"group": 0, "state": "optimized"}'      | ANA group must be 1..128, not 0
            a group that is text      | /api/v1/ports/1/ana           | '{"group": "1", "state": "optimized"}'    | '"group" must be an integer, not "1"'
            a missing state           | /api/v1/ports/1/ana           | '{"group": 1}'                            | missing "state"
            an unknown field          | /api/v1/ports/1/ana           | '{"State": "optimized"}'                  | unknown field "State" (expected group, state)
            a body that is not JSON   | /api/v1/ports/1/ana           | 'state=optimized'                         | the body is not JSON
            a body that is a list     | /api/v1/ports/1/fault         | '["down"]'                                | the body must be a JSON object like {"fault": "blackhole"}
            an empty body             | /api/v1/ports/1/fault         | ''                                        | the body must be a JSON object
            an unknown fault          | /api/v1/ports/1/fault         | '{"fault": "melt"}'                       | unknown fault 'melt' (none, down, blackhole, delay MS, fail N STATUS, throttle RATE, ghost-writes MS)
            a throttle in decimal MB  | /api/v1/ports/1/fault         | '{"fault": "throttle 50MB/s"}'            | bad fault 'throttle 50MB/s': MB/s is a decimal unit; say 50MiB/s
            a delay without its time  | /api/v1/ports/1/fault         | '{"fault": "delay"}'                      | bad fault 'delay': expected delay MS, a whole number of milliseconds 0..600000
            a word after the delay    | /api/v1/ports/1/fault         | '{"fault": "delay 100 garbage"}'          | bad fault 'delay 100 garbage': unexpected 'garbage' after 'delay 100' (expected delay MS
            a delay with a unit       | /api/v1/ports/1/fault         | '{"fault": "delay 100ms"}'                | bad fault 'delay 100ms': '100ms' is not a whole number of milliseconds
            a word after down         | /api/v1/ports/1/fault         | '{"fault": "down please"}'                | bad fault 'down please': unexpected 'please' after 'down' (expected down)
            a status that is success  | /api/v1/ports/1/fault         | '{"fault": "fail 1 0"}'                   | status 0x0 is not an error status
            """)
    void should_answer_400_with_the_reason_for(String what, String path, String body, String error) throws Exception {
        Fault faultBefore = target.fault(1);
        AnaState anaBefore = target.anaState(1, 1);

        HttpResponse<String> r = post(path, body);

        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r).get("error").textValue()).startsWith(error);
        assertThat(target.fault(1)).as("nothing applied").isEqualTo(faultBefore);
        assertThat(target.anaState(1, 1)).as("nothing applied").isEqualTo(anaBefore);
    }

    @Test
    void should_answer_404_for_an_unknown_path() throws Exception {
        HttpResponse<String> r = get("/api/v1/ports/1/namespaces");

        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(json(r).get("error").textValue()).isEqualTo("no resource /api/v1/ports/1/namespaces");
    }

    @Test
    void should_answer_405_naming_the_allowed_method() throws Exception {
        HttpResponse<String> getAna = get("/api/v1/ports/1/ana");
        HttpResponse<String> postTarget = post("/api/v1/target", "{}");

        assertThat(getAna.statusCode()).isEqualTo(405);
        assertThat(getAna.headers().firstValue("Allow")).hasValue("POST");
        assertThat(json(getAna).get("error").textValue()).isEqualTo("GET is not allowed on /api/v1/ports/1/ana (use POST)");
        assertThat(postTarget.statusCode()).isEqualTo(405);
        assertThat(postTarget.headers().firstValue("Allow")).hasValue("GET");
    }

    @Test
    void should_refuse_a_request_larger_than_64_KiB() throws Exception {
        // the headers alone: the answer comes before any body is read
        String answer = raw("POST /api/v1/ports/1/ana HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                + "Content-Length: 70000\r\n\r\n");

        assertThat(answer).startsWith("HTTP/1.1 413 Request Entity Too Large\r\n");
    }

    @Test
    void should_close_an_http_1_0_connection_after_the_answer() throws Exception {
        String answer = raw("GET /health HTTP/1.0\r\n\r\n");

        assertThat(answer).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\nok");
    }

    @Test
    void should_answer_400_to_a_request_that_is_not_http() throws Exception {
        String answer = raw("HELLO\r\n\r\n");

        assertThat(answer).startsWith("HTTP/1.1 400 Bad Request\r\n").contains("malformed HTTP request");
    }

    /** Sends {@code request} on a fresh connection and reads until the server closes it. */
    private String raw(String request) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", admin.port()), 5000);
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            in.transferTo(got);
            return got.toString(StandardCharsets.UTF_8);
        }
    }

    @Test
    void should_name_the_address_when_the_port_is_taken() {
        TargetConfig.ListenConfig taken = new TargetConfig.ListenConfig("127.0.0.1", admin.port());

        assertThatThrownBy(() -> AdminServer.start(target, taken))
                .isInstanceOf(BindException.class)
                .hasMessageStartingWith("cannot listen on 127.0.0.1:" + admin.port() + ": ");
    }
}
