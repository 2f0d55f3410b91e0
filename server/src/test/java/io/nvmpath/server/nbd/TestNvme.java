package io.nvmpath.server.nbd;

import io.nvmpath.fabric.host.NvmeException;
import io.nvmpath.fabric.host.NvmeRequest;
import io.nvmpath.fabric.nvme.Opcodes;
import io.nvmpath.fabric.nvme.Sqe;

/** NVMe failures as a namespace head reports them, for tests. */
final class TestNvme {
    private TestNvme() {
    }

    /** A Read request that completed with {@code status}. */
    static NvmeRequest failed(int status) {
        NvmeRequest r = NvmeRequest.noData(Sqe.of(Opcodes.NVM_READ));
        r.fail(status, null);
        return r;
    }

    /** The exception a failed Read with {@code status} gives its caller. */
    static NvmeException exception(int status) {
        return new NvmeException("Read", failed(status));
    }
}
