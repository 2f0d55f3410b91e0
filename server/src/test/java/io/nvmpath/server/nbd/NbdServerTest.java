package io.nvmpath.server.nbd;

import io.nvmpath.server.nbd.RawNbdClient.OptionReply;
import io.nvmpath.server.nbd.RawNbdClient.SimpleReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The server as a whole: connection isolation, disconnects, export removal, shutdown. */
class NbdServerTest {
    private NbdFixture fixture;
    private InetSocketAddress server;
    private NbdExport disk;
    private MemoryBlockDevice device;
    private NbdExport backup;

    @BeforeEach
    void setUp() throws Exception {
        fixture = new NbdFixture();
        disk = fixture.add("disk", 4 << 20, false);
        device = fixture.device(disk);
        backup = fixture.add("backup", 1 << 20, false);
        server = fixture.start();
    }

    @AfterEach
    void tearDown() throws Exception {
        fixture.close();
    }

    @Test
    void should_close_only_the_connection_that_sends_a_bad_request_magic() throws Exception {
        try (RawNbdClient good = RawNbdClient.open(server, "disk"); RawNbdClient bad = RawNbdClient.open(server, "disk")) {
            bad.sendRaw(new byte[28]);
            assertThat(bad.closedByServer()).isTrue();
            good.write(1, 0, new byte[4096]);
            assertThat(good.readSimpleReply(0).error()).isZero();
            good.read(2, 0, 4096);
            assertThat(good.readSimpleReply(4096).error()).isZero();
        }
    }

    @Test
    void should_release_everything_when_the_client_goes_away_with_requests_in_flight() throws Exception {
        device.mode = MemoryBlockDevice.Mode.HOLD;
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            c.read(1, 0, 64 * 1024);
            c.read(2, 64 * 1024, 64 * 1024);
            c.write(3, 0, new byte[4096]);
            device.awaitHeld(3);
            // a write whose payload has not fully arrived, kept in the decoder
            c.request(0, Nbd.CMD_WRITE, 4, 0, 1 << 20, new byte[1000]);
        }
        NbdFixture.await("the connection counted closed", () -> disk.stats().connections() == 0);
        assertThat(fixture.server.connections()).isZero();
        device.releaseHeld(); // completions after the close: their read buffers must be released
        NbdFixture.await("the device done", () -> device.outstanding() == 0);
        NbdFixture.await("every request counted finished", () -> disk.stats().inFlight() == 0);
        assertThat(disk.stats().requests(ExportStats.Op.READ)).isEqualTo(2);
    }

    @Test
    void should_close_a_client_that_never_finishes_negotiating_but_keep_one_in_transmission() throws Exception {
        NbdFixture other = new NbdFixture(1);
        try {
            other.add("disk", 1 << 20, false);
            InetSocketAddress quick = other.start(NbdServer.Config.defaults().bind("127.0.0.1", 0)
                    .handshakeTimeout(Duration.ofMillis(300)));
            // open first: on the one event loop, a handshake timer it were still under would fire
            // before the silent one's, so once the silent one is closed the open one is past it
            try (RawNbdClient open = RawNbdClient.open(quick, "disk"); RawNbdClient silent = RawNbdClient.connect(quick)) {
                long t0 = System.nanoTime();
                assertThat(silent.closedByServer()).isTrue();
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
                open.read(1, 0, 4096);
                assertThat(open.readSimpleReply(4096).error()).isZero();
            }
        } finally {
            other.close();
        }
    }

    @Test
    void should_count_open_connections_and_close_them_all_on_close() throws Exception {
        try (RawNbdClient a = RawNbdClient.negotiate(server); RawNbdClient b = RawNbdClient.open(server, "backup")) {
            NbdFixture.await("two connections", () -> fixture.server.connections() == 2);
            fixture.server.close();
            assertThat(a.closedByServer()).isTrue();
            assertThat(b.closedByServer()).isTrue();
            NbdFixture.await("no connection", () -> fixture.server.connections() == 0);
        }
        assertThatThrownBy(() -> new Socket(server.getAddress(), server.getPort()).close()).isInstanceOf(IOException.class);
    }

    @Test
    void should_answer_in_flight_requests_before_closing_gracefully() throws Exception {
        device.mode = MemoryBlockDevice.Mode.HOLD;
        try (RawNbdClient c = RawNbdClient.open(server, "disk"); RawNbdClient idle = RawNbdClient.negotiate(server)) {
            c.read(1, 0, 4096);
            c.write(2, 4096, new byte[4096]);
            device.awaitHeld(2);
            CompletableFuture<Void> closed = fixture.server.closeGracefully(Duration.ofSeconds(30));
            assertThat(idle.closedByServer()).as("nothing in flight while negotiating").isTrue();
            assertThatThrownBy(() -> RawNbdClient.connect(server)).as("no longer accepting").isInstanceOf(IOException.class);
            assertThat(closed).isNotDone();
            device.releaseHeld();
            SimpleReply first = c.readSimpleReply(4096);
            SimpleReply second = c.readSimpleReply(first.handle() == 1 ? 0 : 4096);
            assertThat(first.error()).isZero();
            assertThat(second.error()).isZero();
            assertThat(c.closedByServer()).isTrue();
            closed.get(10, TimeUnit.SECONDS);
        }
        assertThat(fixture.server.connections()).isZero();
    }

    @Test
    void should_close_connections_still_busy_when_the_drain_time_is_over() throws Exception {
        device.mode = MemoryBlockDevice.Mode.HOLD;
        try (RawNbdClient c = RawNbdClient.open(server, "disk")) {
            c.read(1, 0, 4096);
            device.awaitHeld(1);
            CompletableFuture<Void> closed = fixture.server.closeGracefully(Duration.ofMillis(50));
            closed.get(10, TimeUnit.SECONDS);
            assertThat(c.closedByServer()).isTrue();
            assertThat(device.heldCount()).as("the device still has it").isEqualTo(1);
        }
    }

    @Test
    void should_disconnect_only_the_connections_of_an_export_that_goes_away() throws Exception {
        device.mode = MemoryBlockDevice.Mode.HOLD;
        try (RawNbdClient onDisk = RawNbdClient.open(server, "disk");
             RawNbdClient onBackup = RawNbdClient.open(server, "backup");
             RawNbdClient negotiating = RawNbdClient.negotiate(server)) {
            onDisk.read(1, 0, 4096);
            device.awaitHeld(1);
            fixture.exports.remove(disk);
            CompletableFuture<Void> gone = fixture.server.disconnectExport("disk");
            assertThat(negotiating.optionUntilFinal(Nbd.OPT_GO, RawNbdClient.infoData("disk")))
                    .extracting(OptionReply::type).containsExactly(Nbd.REP_ERR_UNKNOWN);
            assertThat(gone).isNotDone();
            device.releaseHeld();
            assertThat(onDisk.readSimpleReply(4096).error()).as("in-flight request answered first").isZero();
            assertThat(onDisk.closedByServer()).isTrue();
            gone.get(10, TimeUnit.SECONDS);

            onBackup.read(2, 0, 512);
            assertThat(onBackup.readSimpleReply(512).error()).isZero();
            negotiating.go("backup");
        }
        NbdFixture.await("disk connection counted closed", () -> disk.stats().connections() == 0);
        assertThat(backup.stats().connectionsTotal()).isEqualTo(2);
    }
}
