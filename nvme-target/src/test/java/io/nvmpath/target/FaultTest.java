package io.nvmpath.target;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** How faults are written: what {@link Fault#parse} reads, what it refuses and why, and labels. */
class FaultTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            throttle 2000iops       | 2000       | IOPS  | throttle 2000iops
            THROTTLE 2000 IOPS      | 2000       | IOPS  | throttle 2000iops
            '  throttle   1iops  '  | 1          | IOPS  | throttle 1iops
            throttle 10000000iops   | 10000000   | IOPS  | throttle 10000000iops
            throttle 50MiB/s        | 52428800   | BYTES | throttle 50MiB/s
            throttle 50 mib/s       | 52428800   | BYTES | throttle 50MiB/s
            throttle 512 KiB/s      | 524288     | BYTES | throttle 512KiB/s
            throttle 1024KiB/s      | 1048576    | BYTES | throttle 1MiB/s
            throttle 1536KiB/s      | 1572864    | BYTES | throttle 1536KiB/s
            throttle 2GiB/s         | 2147483648 | BYTES | throttle 2GiB/s
            throttle 1536B/s        | 1536       | BYTES | throttle 1536B/s
            throttle 1024GiB/s      | 1099511627776 | BYTES | throttle 1024GiB/s
            """)
    void should_read_a_throttle_and_label_it_as_it_reads_back(String text, long perSecond, Fault.Throttle.Unit unit,
                                                              String label) {
        Fault f = Fault.parse(text);

        assertThat(f).isEqualTo(new Fault.Throttle(perSecond, unit));
        assertThat(f.label()).isEqualTo(label);
        assertThat(Fault.parse(f.label())).isEqualTo(f);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            throttle                   | bad fault 'throttle': expected throttle RATE, a whole number with iops, B/s, KiB/s, MiB/s or GiB/s, e.g. throttle 2000iops or throttle 50MiB/s
            throttle 2000              | bad fault 'throttle 2000': expected throttle RATE, a whole number with iops, B/s, KiB/s, MiB/s or GiB/s, e.g. throttle 2000iops or throttle 50MiB/s
            throttle 1.5MiB/s          | bad fault 'throttle 1.5MiB/s': expected throttle RATE
            throttle -5iops            | bad fault 'throttle -5iops': expected throttle RATE
            throttle 2000iops 50MiB/s  | bad fault 'throttle 2000iops 50MiB/s': expected throttle RATE
            throttle fast              | bad fault 'throttle fast': expected throttle RATE
            throttle 50MB/s            | bad fault 'throttle 50MB/s': MB/s is a decimal unit; say 50MiB/s (units are binary: B/s, KiB/s, MiB/s, GiB/s)
            throttle 100 kb/s          | bad fault 'throttle 100 kb/s': KB/s is a decimal unit; say 100KiB/s
            throttle 0iops             | bad fault 'throttle 0iops': the rate must be 1..10000000 iops
            throttle 10000001iops      | bad fault 'throttle 10000001iops': the rate must be 1..10000000 iops
            throttle 99999999999999999999iops | bad fault 'throttle 99999999999999999999iops': the rate must be 1..10000000 iops
            throttle 512B/s            | bad fault 'throttle 512B/s': the rate must be 1KiB/s..1024GiB/s
            throttle 0MiB/s            | bad fault 'throttle 0MiB/s': the rate must be 1KiB/s..1024GiB/s
            throttle 1025GiB/s         | bad fault 'throttle 1025GiB/s': the rate must be 1KiB/s..1024GiB/s
            throttle 9999999999999999999MiB/s | bad fault 'throttle 9999999999999999999MiB/s': the rate must be 1KiB/s..1024GiB/s
            """)
    void should_refuse_a_bad_throttle_saying_why(String text, String message) {
        assertThatThrownBy(() -> Fault.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(message);
    }

    @Test
    void should_name_every_fault_when_the_fault_is_unknown() {
        assertThatThrownBy(() -> Fault.parse("slow 2000iops"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("unknown fault 'slow' (none, down, blackhole, delay MS, fail N STATUS, throttle RATE, ghost-writes MS)");
    }

    @Test
    void should_refuse_a_throttle_out_of_range_built_in_code() {
        assertThatThrownBy(() -> Fault.Throttle.iops(0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("throttle must be 1..10000000 iops, not 0");
        assertThatThrownBy(() -> new Fault.Throttle(1000, Fault.Throttle.Unit.BYTES))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("throttle must be 1KiB/s..1024GiB/s, not 1000B/s");
        assertThat(Fault.Throttle.mibPerSecond(50)).isEqualTo(Fault.parse("throttle 50MiB/s"));
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
            delay 100 garbage     | bad fault 'delay 100 garbage': unexpected 'garbage' after 'delay 100' (expected delay MS, a whole number of milliseconds 0..600000, e.g. delay 200)
            delay                 | bad fault 'delay': expected delay MS, a whole number of milliseconds 0..600000, e.g. delay 200
            delay 100ms           | bad fault 'delay 100ms': '100ms' is not a whole number of milliseconds (expected delay MS
            delay -5              | bad fault 'delay -5': '-5' is not a whole number of milliseconds
            delay 600001          | bad fault 'delay 600001': the delay must be 0..600000 ms
            delay 99999999999999999999 | bad fault 'delay 99999999999999999999': the delay must be 0..600000 ms
            DOWN Now              | bad fault 'DOWN Now': unexpected 'Now' after 'DOWN' (expected down)
            blackhole 5           | bad fault 'blackhole 5': unexpected '5' after 'blackhole' (expected blackhole)
            clear all             | bad fault 'clear all': unexpected 'all' after 'clear' (expected clear)
            none at all           | bad fault 'none at all': unexpected 'at' after 'none' (expected none)
            fail 5 0x302 extra    | bad fault 'fail 5 0x302 extra': unexpected 'extra' after 'fail 5 0x302' (expected fail N STATUS
            fail 5                | bad fault 'fail 5': expected fail N STATUS, N commands (at least 1) and STATUS an NVMe status in hex or decimal, e.g. fail 5 0x302
            fail five 0x302       | bad fault 'fail five 0x302': 'five' is not a whole number of commands (expected fail N STATUS
            fail 5 ana            | bad fault 'fail 5 ana': 'ana' is not a status in hex (0x302) or decimal (expected fail N STATUS
            fail 5 #302           | bad fault 'fail 5 #302': '#302' is not a status in hex (0x302) or decimal
            fail 5 -0x302         | bad fault 'fail 5 -0x302': '-0x302' is not a status in hex (0x302) or decimal
            fail 0 0x302          | fail count must be at least 1, not 0
            fail 5 0x1FFFFFFFFF   | status 0x7fffffff is not an error status
            "   "                 | no fault given (none, down, blackhole, delay MS, fail N STATUS, throttle RATE, ghost-writes MS)
            ghost-writes          | bad fault 'ghost-writes': expected ghost-writes MS, a whole number of milliseconds 1..600000, e.g. ghost-writes 1000
            ghost-writes 0        | bad fault 'ghost-writes 0': the hold must be 1..600000 ms
            ghost-writes 1s       | bad fault 'ghost-writes 1s': '1s' is not a whole number of milliseconds (expected ghost-writes MS
            ghost-writes 5 now    | bad fault 'ghost-writes 5 now': unexpected 'now' after 'ghost-writes 5' (expected ghost-writes MS
            ghost-writes 600001   | bad fault 'ghost-writes 600001': the hold must be 1..600000 ms
            """)
    void should_refuse_any_word_it_does_not_understand_naming_it(String text, String message) {
        assertThatThrownBy(() -> Fault.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(message);
    }

    @Test
    void should_read_a_decimal_status_with_a_leading_zero_as_decimal_not_octal() {
        assertThat(Fault.parse("fail 2 0302")).isEqualTo(new Fault.Fail(2, 302));
        assertThat(Fault.parse("fail 2 0X302")).isEqualTo(new Fault.Fail(2, 0x302));
        assertThat(Fault.parse("fail 2 770")).isEqualTo(new Fault.Fail(2, 770));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            none          | none
            clear         | none
            down          | down
            blackhole     | blackhole
            delay 200     | delay 200
            fail 5 0x302  | fail 5 0x302 (ANA Inaccessible (SCT 3h SC 02h))
            FAIL 5 0X302  | fail 5 0x302 (ANA Inaccessible (SCT 3h SC 02h))
            ' delay  0 '  | delay 0
            ghost-writes 1000 | ghost-writes 1000
            ' GHOST-WRITES  7 ' | ghost-writes 7
            """)
    void should_still_read_the_other_faults(String text, String label) {
        assertThat(Fault.parse(text).label()).isEqualTo(label);
    }
}
