package io.nvmpath.fabric.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;

import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Turns Netty's leak reports into test failures. Installed before any buffer class loads (by
 * {@link LeakDetectionSessionListener}); {@link LeakDetectionExtension} checks after every test.
 */
public final class LeakDetection {
    private static final long SENTINEL_WAIT_MILLIS = 1000;
    private static final ConcurrentLinkedQueue<String> LEAKS = new ConcurrentLinkedQueue<>();
    private static volatile boolean installed;

    private LeakDetection() {
    }

    /** Installs the recording detector factory at level PARANOID; idempotent. */
    public static synchronized void install() {
        if (installed) {
            return;
        }
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new RecordingFactory());
        installed = true;
    }

    public static boolean installed() {
        return installed;
    }

    /**
     * Collects garbage, lets the detectors poll their reference queues, and returns the leaks
     * reported since the last call.
     */
    public static List<String> drainLeaks() {
        for (int round = 0; round < 3; round++) {
            collectGarbage();
            // every tracked allocation polls the detector's queue and reports what was collected
            for (int i = 0; i < 64; i++) {
                ByteBuf a = PooledByteBufAllocator.DEFAULT.directBuffer(8);
                ByteBuf b = UnpooledByteBufAllocator.DEFAULT.heapBuffer(8);
                ByteBuf c = PooledByteBufAllocator.DEFAULT.heapBuffer(8);
                ByteBuf d = UnpooledByteBufAllocator.DEFAULT.directBuffer(8);
                a.release();
                b.release();
                c.release();
                d.release();
            }
        }
        List<String> out = new ArrayList<>();
        String s;
        while ((s = LEAKS.poll()) != null) {
            out.add(s);
        }
        return out;
    }

    /**
     * Runs a collection and waits until its weak references have been enqueued, which is when the
     * detectors' own references to leaked buffers are there to be polled: a sentinel that only this
     * collection could clear tells when, instead of a guessed pause.
     */
    private static void collectGarbage() {
        ReferenceQueue<Object> queue = new ReferenceQueue<>();
        WeakReference<Object> sentinel = new WeakReference<>(new Object(), queue);
        System.gc();
        try {
            queue.remove(SENTINEL_WAIT_MILLIS); // null only if explicit GC is disabled: go on regardless
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        sentinel.clear();
    }

    private static final class RecordingFactory extends ResourceLeakDetectorFactory {
        @Override
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval,
                                                                   long maxActive) {
            return new RecordingDetector<>(resource, samplingInterval);
        }

        @Override
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval) {
            return new RecordingDetector<>(resource, samplingInterval);
        }
    }

    private static final class RecordingDetector<T> extends ResourceLeakDetector<T> {
        RecordingDetector(Class<T> resource, int samplingInterval) {
            super(resource, samplingInterval);
        }

        @Override
        protected boolean needReport() {
            return true;
        }

        @Override
        protected void reportTracedLeak(String resourceType, String records) {
            LEAKS.add("LEAK: " + resourceType + ".release() was not called before it was garbage-collected."
                    + records);
        }

        @Override
        protected void reportUntracedLeak(String resourceType) {
            LEAKS.add("LEAK: " + resourceType + ".release() was not called (untraced)");
        }
    }
}
