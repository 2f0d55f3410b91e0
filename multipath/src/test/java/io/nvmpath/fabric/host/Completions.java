package io.nvmpath.fabric.host;

/**
 * Test access to the transport side of {@link NvmeRequest}, for scripted paths that stand in for a
 * controller: what {@code Controller.submit} does before sending ({@link #sent}) and what a queue does
 * when the completion arrives ({@link #complete}), failure interceptor included.
 */
public final class Completions {
    private Completions() {
    }

    /** Clears the previous outcome, as a controller does on every (re)submission. */
    public static void sent(NvmeRequest r) {
        r.reset();
    }

    /** Completes {@code r} as a controller's completion would: failures pass the interceptor first. */
    public static void complete(NvmeRequest r, int status) {
        r.complete(status, 0, 0, null);
    }
}
