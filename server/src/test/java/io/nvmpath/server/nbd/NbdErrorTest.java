package io.nvmpath.server.nbd;

import io.nvmpath.fabric.host.NvmeException;
import io.nvmpath.fabric.nvme.Status;
import io.nvmpath.server.block.BlockException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

import static org.assertj.core.api.Assertions.assertThat;

/** The one mapping from failures (and the request's flags) to NBD errors, and the wire numbers. */
class NbdErrorTest {

    @Test
    void should_carry_the_protocols_error_numbers() {
        assertThat(NbdError.EPERM.value()).isEqualTo(1);
        assertThat(NbdError.EIO.value()).isEqualTo(5);
        assertThat(NbdError.ENOMEM.value()).isEqualTo(12);
        assertThat(NbdError.EINVAL.value()).isEqualTo(22);
        assertThat(NbdError.ENOSPC.value()).isEqualTo(28);
        assertThat(NbdError.EOVERFLOW.value()).isEqualTo(75);
        assertThat(NbdError.ENOTSUP.value()).isEqualTo(95);
        assertThat(NbdError.ESHUTDOWN.value()).isEqualTo(108);
    }

    @ParameterizedTest
    @CsvSource({
            "INVALID, EINVAL",
            "NO_SPACE, ENOSPC",
            "READ_ONLY, EPERM",
            "SHUTDOWN, ESHUTDOWN",
            "OVERFLOW, EOVERFLOW",
            "NOT_SUPPORTED, ENOTSUP",
            "IO, EIO"})
    void should_map_each_block_exception_kind(BlockException.Kind kind, NbdError expected) {
        assertThat(NbdError.ofFailure(new BlockException(kind, "x"))).isEqualTo(expected);
    }

    @Test
    void should_cover_every_block_exception_kind() {
        for (BlockException.Kind kind : BlockException.Kind.values()) {
            assertThat(NbdError.of(new BlockException(kind, "x"), 0)).as(kind.name()).isNotNull();
        }
    }

    @ParameterizedTest
    @CsvSource({
            "0x080, ENOSPC",   // LBA Out of Range
            "0x081, ENOSPC",   // Capacity Exceeded
            "0x4081, ENOSPC",  // ... with DNR
            "0x002, EINVAL",   // Invalid Field in Command
            "0x00B, EINVAL",   // Invalid Namespace or Format
            "0x001, ENOTSUP",  // Invalid Command Opcode
            "0x020, EPERM",    // Namespace is Write Protected
            "0x4182, EPERM",   // Attempted Write to Read Only Range, DNR
            "0x281, EIO",      // Unrecovered Read Error (media)
            "0x280, EIO",      // Write Fault (media)
            "0x286, EIO",      // Access Denied (media and data integrity)
            "0x302, EIO",      // ANA Inaccessible (path)
            "0x370, EIO",      // Host Pathing Error
            "0x371, EIO",      // Command Aborted By Host
            "0x006, EIO",      // Internal Error
            "0x082, EIO"})     // Namespace Not Ready
    void should_map_nvme_statuses(String status, NbdError expected) {
        int s = Integer.decode(status);
        assertThat(NbdError.ofFailure(TestNvme.exception(s))).as(Status.describe(s)).isEqualTo(expected);
    }

    @Test
    void should_look_through_future_wrappers() {
        BlockException cause = new BlockException(BlockException.Kind.NO_SPACE, "full");
        assertThat(NbdError.of(new CompletionException(cause), 0)).isEqualTo(NbdError.ENOSPC);
        assertThat(NbdError.of(new ExecutionException(new CompletionException(TestNvme.exception(0x002))), 0))
                .isEqualTo(NbdError.EINVAL);
    }

    @Test
    void should_map_anything_else_to_eio() {
        assertThat(NbdError.of(new IOException("reset"), 0)).isEqualTo(NbdError.EIO);
        assertThat(NbdError.of(new IllegalStateException(), 0)).isEqualTo(NbdError.EIO);
        assertThat(NbdError.of(new OutOfMemoryError(), 0)).isEqualTo(NbdError.EIO);
        assertThat(NbdError.of(new CompletionException((Throwable) null), 0)).isEqualTo(NbdError.EIO);
    }

    /** {@code FAST_ZERO|FUA} as the request's command flags; "-" for none. */
    private static int flags(String names) {
        int f = 0;
        for (String n : names.split("\\|")) {
            f |= switch (n.strip()) {
                case "-" -> 0;
                case "FUA" -> Nbd.CMD_FLAG_FUA;
                case "NO_HOLE" -> Nbd.CMD_FLAG_NO_HOLE;
                case "DF" -> Nbd.CMD_FLAG_DF;
                case "FAST_ZERO" -> Nbd.CMD_FLAG_FAST_ZERO;
                default -> throw new IllegalArgumentException(n);
            };
        }
        return f;
    }

    @ParameterizedTest(name = "{0} to a request with {1}: {2}")
    @CsvSource({
            "NOT_SUPPORTED, FAST_ZERO, ENOTSUP",
            "NOT_SUPPORTED, FAST_ZERO|NO_HOLE|FUA, ENOTSUP",
            "NOT_SUPPORTED, -, EINVAL",
            "NOT_SUPPORTED, NO_HOLE|FUA, EINVAL",
            "NOT_SUPPORTED, DF, EINVAL",
            "OVERFLOW, DF, EOVERFLOW",
            "OVERFLOW, -, EINVAL",
            "OVERFLOW, FAST_ZERO, EINVAL",
            "OVERFLOW, FUA, EINVAL",
            "NO_SPACE, FAST_ZERO, ENOSPC",
            "READ_ONLY, DF, EPERM",
            "SHUTDOWN, FAST_ZERO|DF, ESHUTDOWN",
            "IO, -, EIO",
            "INVALID, FAST_ZERO, EINVAL"})
    void should_send_enotsup_only_with_fast_zero_and_eoverflow_only_with_df(BlockException.Kind kind, String flags,
                                                                           NbdError expected) {
        assertThat(NbdError.of(new BlockException(kind, "x"), flags(flags))).isEqualTo(expected);
    }

    @Test
    void should_narrow_an_nvme_invalid_opcode_by_the_requests_flags_too() {
        NvmeException invalidOpcode = TestNvme.exception(Status.INVALID_OPCODE);

        assertThat(NbdError.of(invalidOpcode, Nbd.CMD_FLAG_FAST_ZERO)).isEqualTo(NbdError.ENOTSUP);
        assertThat(NbdError.of(invalidOpcode, 0)).isEqualTo(NbdError.EINVAL);
        assertThat(NbdError.of(new CompletionException(invalidOpcode), Nbd.CMD_FLAG_FUA)).isEqualTo(NbdError.EINVAL);
    }

    @ParameterizedTest
    @EnumSource(NbdError.class)
    void should_have_distinct_numbers(NbdError e) {
        for (NbdError other : NbdError.values()) {
            if (other != e) {
                assertThat(other.value()).isNotEqualTo(e.value());
            }
        }
    }
}
