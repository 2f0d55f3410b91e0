package io.nvmpath.server.nbd;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A minimal NBD client over a plain socket that speaks the protocol field by field, so tests can
 * send exactly the bytes they mean (including wrong ones) and read exactly what comes back.
 */
public final class RawNbdClient implements AutoCloseable {
    /** Every read gives up after this long: a missing reply fails the test instead of hanging it. */
    static final int TIMEOUT_MILLIS = 10_000;

    /** One option reply. */
    public record OptionReply(int option, int type, byte[] data) {
        String text() {
            return new String(data, StandardCharsets.UTF_8);
        }

        int u16(int at) {
            return ((data[at] & 0xFF) << 8) | (data[at + 1] & 0xFF);
        }

        int u32(int at) {
            return ((data[at] & 0xFF) << 24) | ((data[at + 1] & 0xFF) << 16) | ((data[at + 2] & 0xFF) << 8)
                    | (data[at + 3] & 0xFF);
        }

        long u64(int at) {
            return ((long) u32(at) << 32) | (u32(at + 4) & 0xFFFFFFFFL);
        }
    }

    /** A simple reply, with its data for a successful READ. */
    public record SimpleReply(int error, long handle, byte[] data) {
    }

    /** One structured reply chunk. */
    record Chunk(int flags, int type, long handle, byte[] payload) {
        int u32(int at) {
            return ((payload[at] & 0xFF) << 24) | ((payload[at + 1] & 0xFF) << 16) | ((payload[at + 2] & 0xFF) << 8)
                    | (payload[at + 3] & 0xFF);
        }

        long u64(int at) {
            return ((long) u32(at) << 32) | (u32(at + 4) & 0xFFFFFFFFL);
        }

        /** The error value of an error chunk. */
        int error() {
            return u32(0);
        }

        /** The message of an error chunk. */
        String message() {
            int length = ((payload[4] & 0xFF) << 8) | (payload[5] & 0xFF);
            return new String(payload, 6, length, StandardCharsets.UTF_8);
        }
    }

    private Socket socket;
    private DataInputStream in;
    private DataOutputStream out;
    /** The handshake flags from the greeting. */
    final int handshakeFlags;
    /** Transmission flags and size, once in transmission. */
    int transmissionFlags;
    long exportSize;

    private RawNbdClient(Socket socket) throws IOException {
        this.socket = socket;
        socket.setSoTimeout(TIMEOUT_MILLIS);
        socket.setTcpNoDelay(true);
        streams();
        assertThat(in.readLong()).as("NBDMAGIC").isEqualTo(0x4e42444d41474943L);
        assertThat(in.readLong()).as("IHAVEOPT").isEqualTo(0x49484156454F5054L);
        handshakeFlags = in.readUnsignedShort();
    }

    private void streams() throws IOException {
        in = new DataInputStream(new java.io.BufferedInputStream(socket.getInputStream()));
        out = new DataOutputStream(new java.io.BufferedOutputStream(socket.getOutputStream()));
    }

    /** Connects and reads the greeting; sends no flags yet. */
    public static RawNbdClient connect(InetSocketAddress server) throws IOException {
        Socket s = new Socket();
        s.connect(server, TIMEOUT_MILLIS);
        return new RawNbdClient(s);
    }

    /** Connects, sends FIXED_NEWSTYLE | NO_ZEROES. */
    public static RawNbdClient negotiate(InetSocketAddress server) throws IOException {
        RawNbdClient c = connect(server);
        c.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
        return c;
    }

    /** Connects and enters transmission on {@code export} with NBD_OPT_GO (asking for block sizes). */
    public static RawNbdClient open(InetSocketAddress server, String export) throws IOException {
        RawNbdClient c = negotiate(server);
        c.go(export);
        return c;
    }

    /** As {@link #open}, with structured replies and base:allocation negotiated first. */
    public static RawNbdClient openStructured(InetSocketAddress server, String export) throws IOException {
        RawNbdClient c = negotiate(server);
        assertThat(c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]).type()).isEqualTo(Nbd.REP_ACK);
        List<OptionReply> replies = c.optionUntilFinal(Nbd.OPT_SET_META_CONTEXT,
                metaContextData(export, Nbd.BASE_ALLOCATION));
        assertThat(replies).extracting(OptionReply::type).containsExactly(Nbd.REP_META_CONTEXT, Nbd.REP_ACK);
        c.go(export);
        return c;
    }

    void clientFlags(int flags) throws IOException {
        out.writeInt(flags);
        out.flush();
    }

    void sendOption(int option, byte[] data) throws IOException {
        out.writeLong(0x49484156454F5054L);
        out.writeInt(option);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    /** Sends only an option header, claiming {@code length} bytes of data. */
    void sendOptionHeader(int option, long length) throws IOException {
        out.writeLong(0x49484156454F5054L);
        out.writeInt(option);
        out.writeInt((int) length);
        out.flush();
    }

    void sendZeroes(int count) throws IOException {
        byte[] chunk = new byte[Math.min(count, 64 * 1024)];
        for (int left = count; left > 0; left -= chunk.length) {
            out.write(chunk, 0, Math.min(left, chunk.length));
        }
        out.flush();
    }

    OptionReply readOptionReply() throws IOException {
        assertThat(in.readLong()).as("option reply magic").isEqualTo(0x3e889045565a9L);
        int option = in.readInt();
        int type = in.readInt();
        int length = in.readInt();
        byte[] data = new byte[length];
        in.readFully(data);
        return new OptionReply(option, type, data);
    }

    /** Sends an option and reads its one reply. */
    public OptionReply option(int option, byte[] data) throws IOException {
        sendOption(option, data);
        OptionReply r = readOptionReply();
        assertThat(r.option()).as("option echoed").isEqualTo(option);
        return r;
    }

    /** Sends an option and reads replies up to the final one (ACK or an error). */
    List<OptionReply> optionUntilFinal(int option, byte[] data) throws IOException {
        sendOption(option, data);
        List<OptionReply> replies = new ArrayList<>();
        while (true) {
            OptionReply r = readOptionReply();
            assertThat(r.option()).as("option echoed").isEqualTo(option);
            replies.add(r);
            if (r.type() == Nbd.REP_ACK || r.type() < 0) {
                return replies;
            }
        }
    }

    /** NBD_OPT_INFO or NBD_OPT_GO data: name, then information requests. */
    public static byte[] infoData(String name, int... requests) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(b);
        try {
            d.writeInt(n.length);
            d.write(n);
            d.writeShort(requests.length);
            for (int r : requests) {
                d.writeShort(r);
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return b.toByteArray();
    }

    /** NBD_OPT_{LIST,SET}_META_CONTEXT data: export name, then queries. */
    static byte[] metaContextData(String export, String... queries) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(b);
        try {
            byte[] n = export.getBytes(StandardCharsets.UTF_8);
            d.writeInt(n.length);
            d.write(n);
            d.writeInt(queries.length);
            for (String q : queries) {
                byte[] qb = q.getBytes(StandardCharsets.UTF_8);
                d.writeInt(qb.length);
                d.write(qb);
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return b.toByteArray();
    }

    /** NBD_OPT_GO asking for block sizes; asserts success and remembers size and flags. */
    public List<OptionReply> go(String export) throws IOException {
        List<OptionReply> replies = optionUntilFinal(Nbd.OPT_GO, infoData(export, Nbd.INFO_BLOCK_SIZE));
        assertThat(replies.get(replies.size() - 1).type()).as("GO " + export + " answer").isEqualTo(Nbd.REP_ACK);
        OptionReply info = replies.stream().filter(r -> r.type() == Nbd.REP_INFO && r.u16(0) == Nbd.INFO_EXPORT)
                .findFirst().orElseThrow();
        exportSize = info.u64(2);
        transmissionFlags = info.u16(10);
        return replies;
    }

    /** Upgrades this connection to TLS (after STARTTLS was acknowledged). */
    void startTls(SSLContext context) throws IOException {
        InetSocketAddress remote = (InetSocketAddress) socket.getRemoteSocketAddress();
        SSLSocket ssl = (SSLSocket) context.getSocketFactory()
                .createSocket(socket, remote.getHostString(), remote.getPort(), true);
        ssl.setUseClientMode(true);
        ssl.startHandshake();
        socket = ssl;
        socket.setSoTimeout(TIMEOUT_MILLIS);
        streams();
    }

    public void request(int flags, int type, long handle, long offset, long length, byte[] payload) throws IOException {
        out.writeInt(Nbd.REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(handle);
        out.writeLong(offset);
        out.writeInt((int) length);
        if (payload != null) {
            out.write(payload);
        }
        out.flush();
    }

    public void read(long handle, long offset, int length) throws IOException {
        request(0, Nbd.CMD_READ, handle, offset, length, null);
    }

    public void write(long handle, long offset, byte[] data) throws IOException {
        request(0, Nbd.CMD_WRITE, handle, offset, data.length, data);
    }

    public void disconnect() throws IOException {
        request(0, Nbd.CMD_DISC, 0, 0, 0, null);
    }

    /** Reads a simple reply; on success reads {@code dataLength} bytes of data with it. */
    public SimpleReply readSimpleReply(int dataLength) throws IOException {
        assertThat(in.readInt()).as("simple reply magic").isEqualTo(Nbd.SIMPLE_REPLY_MAGIC);
        int error = in.readInt();
        long handle = in.readLong();
        byte[] data = new byte[error == 0 ? dataLength : 0];
        in.readFully(data);
        return new SimpleReply(error, handle, data);
    }

    Chunk readChunk() throws IOException {
        assertThat(in.readInt()).as("structured reply magic").isEqualTo(Nbd.STRUCTURED_REPLY_MAGIC);
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long handle = in.readLong();
        int length = in.readInt();
        byte[] payload = new byte[length];
        in.readFully(payload);
        return new Chunk(flags, type, handle, payload);
    }

    /** Reads {@code n} raw bytes. */
    byte[] readBytes(int n) throws IOException {
        byte[] b = new byte[n];
        in.readFully(b);
        return b;
    }

    long readLong() throws IOException {
        return in.readLong();
    }

    int readUnsignedShort() throws IOException {
        return in.readUnsignedShort();
    }

    /** True when the server closed the connection (end of stream or reset) before {@link #TIMEOUT_MILLIS}. */
    public boolean closedByServer() throws IOException {
        try {
            return in.read() < 0;
        } catch (EOFException | SocketException e) {
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        }
    }

    /** Writes raw bytes. */
    void sendRaw(byte[] b) throws IOException {
        out.write(b);
        out.flush();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
