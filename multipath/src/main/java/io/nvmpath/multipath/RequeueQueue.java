package io.nvmpath.multipath;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The requests of one head that wait for a usable path, oldest first, bounded in bytes and in
 * number (flushes carry no bytes). Thread-safe: the I/O path offers, the management executor takes.
 */
final class RequeueQueue {
    /** Bound on waiting requests whatever their size. */
    static final int MAX_QUEUED = 65536;

    private final long limitBytes;
    private final ArrayDeque<HeadRequest> waiting = new ArrayDeque<>();
    private long bytes;

    RequeueQueue(long limitBytes) {
        this.limitBytes = limitBytes;
    }

    long limitBytes() {
        return limitBytes;
    }

    /** Queues {@code r}, waiting since {@code now}; false when the bound would be passed. */
    synchronized boolean offer(HeadRequest r, long now) {
        if (bytes + r.dataLength() > limitBytes || waiting.size() >= MAX_QUEUED) {
            return false;
        }
        r.waitingSinceNanos = now;
        waiting.addLast(r);
        bytes += r.dataLength();
        return true;
    }

    /** The oldest waiting request no fence holds back, taken off; null when there is none. */
    synchronized HeadRequest poll() {
        Iterator<HeadRequest> it = waiting.iterator();
        while (it.hasNext()) {
            HeadRequest r = it.next();
            if (!r.fenced()) {
                it.remove();
                bytes -= r.dataLength();
                return r;
            }
        }
        return null;
    }

    /** Requests held back by a fence now. */
    synchronized int fencedCount() {
        int n = 0;
        for (HeadRequest r : waiting) {
            n += r.fenced() ? 1 : 0;
        }
        return n;
    }

    /** Takes off the requests that waited {@code limitNanos} or longer at {@code now} (all when {@code all}). */
    synchronized List<HeadRequest> expired(long now, long limitNanos, boolean all) {
        List<HeadRequest> out = new ArrayList<>();
        Iterator<HeadRequest> it = waiting.iterator();
        while (it.hasNext()) {
            HeadRequest r = it.next();
            if (all || now - r.waitingSinceNanos >= limitNanos) {
                it.remove();
                bytes -= r.dataLength();
                out.add(r);
            }
        }
        return out;
    }

    synchronized int size() {
        return waiting.size();
    }

    synchronized long bytes() {
        return bytes;
    }
}
