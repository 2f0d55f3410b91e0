package io.nvmpath.multipath;

import io.nvmpath.fabric.host.NvmeRequest;

/**
 * What a head keeps about one request it took: the path it went to, how often it was retried there
 * and failed over, and since when it waits for a path. It is the request's failure interceptor, so a
 * success passes the path layer by and only a failure comes back to the head.
 */
final class HeadRequest implements NvmeRequest.FailureInterceptor {
    final NamespaceHead head;
    final NvmeRequest request;
    /** The path it was last sent to; null before the first send. Written by whoever sends it. */
    volatile Path path;
    /** RETRY dispositions so far (same path, after the Command Retry Delay). */
    int retries;
    /** FAILOVER dispositions so far (requeued for another path). */
    int failovers;
    /** When it began waiting for a usable path (the head's clock); meaningful while queued. */
    long waitingSinceNanos;
    /** The fence it waits behind, a write lost with its path; null for every other request. */
    volatile WriteFence fence;
    /** The failover it is part of while it moves; guarded by the {@link FailoverLog}. */
    FailoverEvent event;
    /** Its callback is wrapped to report to the failover log (once it first failed over). */
    boolean watched;

    HeadRequest(NamespaceHead head, NvmeRequest request) {
        this.head = head;
        this.request = request;
    }

    @Override
    public boolean intercept(NvmeRequest r) {
        return head.failed(this);
    }

    /** Whether a fence still holds it back. */
    boolean fenced() {
        WriteFence f = fence;
        return f != null && !f.released();
    }

    long dataLength() {
        return request.dataLength();
    }
}
