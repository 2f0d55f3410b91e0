package io.nvmpath.server.nbd;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/** Per-export counters: connections, requests and bytes by command, errors by NBD error name. */
public final class ExportStats {

    /** The NBD commands counted. */
    public enum Op { READ, WRITE, FLUSH, TRIM, WRITE_ZEROES, CACHE, BLOCK_STATUS }

    private final AtomicInteger connections = new AtomicInteger();
    private final LongAdder connectionsTotal = new LongAdder();
    private final Map<Op, LongAdder> requests = new EnumMap<>(Op.class);
    private final Map<Op, LongAdder> bytes = new EnumMap<>(Op.class);
    private final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
    private final AtomicInteger inFlight = new AtomicInteger();

    public ExportStats() {
        for (Op op : Op.values()) {
            requests.put(op, new LongAdder());
            bytes.put(op, new LongAdder());
        }
    }

    public void connectionOpened() {
        connections.incrementAndGet();
        connectionsTotal.increment();
    }

    public void connectionClosed() {
        connections.decrementAndGet();
    }

    public void started() {
        inFlight.incrementAndGet();
    }

    /** A request finished; {@code error} is the NBD error name (e.g. "EIO") or null. */
    public void finished(Op op, long byteCount, String error) {
        inFlight.decrementAndGet();
        requests.get(op).increment();
        if (error == null) {
            bytes.get(op).add(byteCount);
        } else {
            errors.computeIfAbsent(error, k -> new LongAdder()).increment();
        }
    }

    public int connections() {
        return connections.get();
    }

    public long connectionsTotal() {
        return connectionsTotal.sum();
    }

    public int inFlight() {
        return inFlight.get();
    }

    public long requests(Op op) {
        return requests.get(op).sum();
    }

    public long bytes(Op op) {
        return bytes.get(op).sum();
    }

    /** Errors by NBD error name; only names seen so far (a bounded set). */
    public Map<String, Long> errors() {
        Map<String, Long> m = new java.util.TreeMap<>();
        errors.forEach((k, v) -> m.put(k, v.sum()));
        return m;
    }
}
