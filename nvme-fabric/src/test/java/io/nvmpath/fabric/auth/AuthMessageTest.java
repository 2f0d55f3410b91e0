package io.nvmpath.fabric.auth;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

/** The message layouts of include/linux/nvme.h's struct nvmf_auth_dhchap_*, and their bounds checks. */
class AuthMessageTest {
    private final List<ByteBuf> buffers = new ArrayList<>();

    @AfterEach
    void release() {
        buffers.forEach(ByteBuf::release);
    }

    private ByteBuf encode(AuthMessage m) {
        ByteBuf b = Unpooled.buffer();
        buffers.add(b);
        m.encode(b);
        assertThat(b.readableBytes()).isEqualTo(m.size());
        return b;
    }

    private ByteBuf wrap(byte[] bytes) {
        ByteBuf b = Unpooled.wrappedBuffer(bytes);
        buffers.add(b);
        return b;
    }

    private static byte[] fill(int n, int v) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (v + i);
        }
        return b;
    }

    @Test
    void negotiate_is_the_72_bytes_a_linux_host_sends() {
        ByteBuf b = encode(AuthNegotiate.offerAll(0x1234, SecureChannel.NONE));
        assertThat(b.readableBytes()).isEqualTo(72);
        assertThat(b.getByte(0)).isEqualTo((byte) 0x00);
        assertThat(b.getByte(1)).isEqualTo((byte) 0x00);
        assertThat(b.getUnsignedShortLE(4)).isEqualTo(0x1234);
        assertThat(b.getByte(6)).isZero();
        assertThat(b.getByte(7)).isEqualTo((byte) 1);
        assertThat(b.getByte(8)).isEqualTo((byte) 1); // AUTHID
        assertThat(b.getByte(10)).isEqualTo((byte) 3); // HALEN
        assertThat(b.getByte(11)).isEqualTo((byte) 6); // DHLEN
        assertThat(new byte[] {b.getByte(12), b.getByte(13), b.getByte(14)}).containsExactly(1, 2, 3);
        assertThat(b.getByte(12 + 30)).isEqualTo((byte) 0);
        assertThat(b.getByte(12 + 35)).isEqualTo((byte) 5);
        AuthNegotiate back = (AuthNegotiate) AuthMessage.decode(b);
        assertThat(back.transactionId()).isEqualTo(0x1234);
        assertThat(back.hashes()).containsExactly(AuthHash.SHA256, AuthHash.SHA384, AuthHash.SHA512);
        assertThat(back.dhGroups()).containsExactly(DhGroup.values());
    }

    @Test
    void negotiate_keeps_unknown_ids_and_skips_them_when_choosing() {
        AuthNegotiate n = new AuthNegotiate(1, 0, List.of(9, 2), List.of(7, 1));
        AuthNegotiate back = AuthNegotiate.parse(encode(n));
        assertThat(back.hashIds()).containsExactly(9, 2);
        assertThat(back.hashes()).containsExactly(AuthHash.SHA384);
        assertThat(back.dhGroups()).containsExactly(DhGroup.FFDHE2048);
    }

    @Test
    void negotiate_refuses_bad_descriptors() {
        ByteBuf b = encode(AuthNegotiate.offerAll(1, SecureChannel.NONE));
        b.setByte(7, 0);
        assertThatThrownBy(() -> AuthMessage.decode(b)).hasMessageContaining("NAPD");
        b.setByte(7, 2);
        assertThatThrownBy(() -> AuthMessage.decode(b)).hasMessageContaining("NAPD 2");
        b.setByte(7, 1);
        b.setByte(10, 31);
        assertThatThrownBy(() -> AuthMessage.decode(b)).isInstanceOf(AuthProtocolException.class)
                .hasMessageContaining("HALEN 31");
        b.setByte(10, 3);
        b.setByte(8, 2);
        Throwable t = catchThrowable(() -> AuthMessage.decode(b));
        assertThat(((AuthProtocolException) t).explanation()).isEqualTo(FailureExplanation.PROTOCOL_NOT_USABLE);
    }

    @Test
    void challenge_round_trips_with_its_dh_value() {
        byte[] dhv = fill(256, 9);
        DhchapChallenge c = new DhchapChallenge(7, 1, 1, 0xDEADBEEF, fill(32, 0), dhv);
        ByteBuf b = encode(c);
        assertThat(b.readableBytes()).isEqualTo(16 + 32 + 256);
        assertThat(b.getByte(6)).isEqualTo((byte) 32);
        assertThat(b.getByte(8)).isEqualTo((byte) 1);
        assertThat(b.getByte(9)).isEqualTo((byte) 1);
        assertThat(b.getUnsignedShortLE(10)).isEqualTo(256);
        assertThat(b.getIntLE(12)).isEqualTo(0xDEADBEEF);
        DhchapChallenge back = (DhchapChallenge) AuthMessage.decode(b);
        assertThat(back.hash()).isEqualTo(AuthHash.SHA256);
        assertThat(back.dhGroup()).isEqualTo(DhGroup.FFDHE2048);
        assertThat(back.seqnum()).isEqualTo(0xDEADBEEF);
        assertThat(back.challenge()).isEqualTo(fill(32, 0));
        assertThat(back.dhValue()).isEqualTo(dhv);
        assertThat(new DhchapChallenge(7, 9, 6, 1, fill(32, 0), new byte[0]).hash()).isNull();
    }

    @Test
    void reply_carries_a_zeroed_c2_area_without_cvalid() {
        DhchapReply r = new DhchapReply(3, fill(48, 1), null, 0, new byte[0]);
        ByteBuf b = encode(r);
        assertThat(b.readableBytes()).isEqualTo(16 + 96);
        assertThat(b.getByte(8)).isZero();
        for (int i = 16 + 48; i < 16 + 96; i++) {
            assertThat(b.getByte(i)).isZero();
        }
        DhchapReply back = (DhchapReply) AuthMessage.decode(b);
        assertThat(back.challenge()).isNull();
        assertThat(back.response()).isEqualTo(fill(48, 1));

        DhchapReply full = new DhchapReply(3, fill(32, 1), fill(32, 100), 0x01020304, fill(384, 5));
        DhchapReply fb = DhchapReply.parse(encode(full));
        assertThat(fb.challenge()).isEqualTo(fill(32, 100));
        assertThat(fb.dhValue()).isEqualTo(fill(384, 5));
        assertThat(fb.seqnum()).isEqualTo(0x01020304);
    }

    @Test
    void success_and_failure_messages_round_trip() {
        DhchapSuccess1 s1 = (DhchapSuccess1) AuthMessage.decode(encode(new DhchapSuccess1(5, 32, fill(32, 3))));
        assertThat(s1.response()).isEqualTo(fill(32, 3));
        ByteBuf noR2 = encode(new DhchapSuccess1(5, 48, null));
        assertThat(noR2.readableBytes()).isEqualTo(16);
        assertThat(noR2.getByte(6)).isEqualTo((byte) 48);
        assertThat(DhchapSuccess1.parse(noR2).response()).isNull();
        assertThat(AuthMessage.decode(encode(new DhchapSuccess2(9)))).isEqualTo(new DhchapSuccess2(9));
        ByteBuf f = encode(AuthFailure.failure1(9, FailureExplanation.HASH_UNUSABLE));
        assertThat(f.readableBytes()).isEqualTo(8);
        assertThat(f.getByte(0)).isZero();
        assertThat((int) f.getUnsignedByte(1)).isEqualTo(0xF1);
        assertThat(f.getByte(6)).isEqualTo((byte) 1);
        assertThat(f.getByte(7)).isEqualTo((byte) 4);
        AuthFailure back = (AuthFailure) AuthMessage.decode(f);
        assertThat(back.isFailure1()).isTrue();
        assertThat(back.explanationCode()).isEqualTo(FailureExplanation.HASH_UNUSABLE);
        AuthFailure f2 = AuthFailure.failure2(9, FailureExplanation.FAILED);
        assertThat(AuthMessage.decode(encode(f2))).isEqualTo(f2);
        AuthFailure typed1 = new AuthFailure(AuthMessage.TYPE_DHCHAP, AuthMessage.ID_FAILURE2, 9, 1, 1);
        assertThat(AuthMessage.decode(encode(typed1))).isEqualTo(typed1);
    }

    @Test
    void every_truncation_is_an_auth_protocol_exception_naming_a_field() {
        List<AuthMessage> all = List.of(AuthNegotiate.offerAll(1, SecureChannel.NONE),
                new DhchapChallenge(1, 2, 3, 4, fill(48, 0), fill(384, 0)),
                new DhchapReply(1, fill(32, 0), fill(32, 9), 2, fill(256, 1)),
                new DhchapSuccess1(1, 64, fill(64, 0)), new DhchapSuccess2(1),
                AuthFailure.failure1(1, FailureExplanation.FAILED));
        for (AuthMessage m : all) {
            ByteBuf whole = encode(m);
            byte[] bytes = new byte[whole.readableBytes()];
            whole.getBytes(0, bytes);
            for (int n = 0; n < bytes.length; n++) {
                byte[] cut = java.util.Arrays.copyOf(bytes, n);
                Throwable t = catchThrowable(() -> AuthMessage.decode(wrap(cut)));
                assertThat(t).as(m.getClass().getSimpleName() + " cut to " + n).isInstanceOf(AuthProtocolException.class);
                assertThat(t.getMessage()).matches(".*(needs|NAPD).*");
            }
        }
    }

    @Test
    void trailing_zeros_of_the_allocation_length_and_a_reader_offset_are_ignored() {
        byte[] msg = new byte[4096];
        ByteBuf enc = encode(new DhchapSuccess1(44, 32, fill(32, 7)));
        enc.getBytes(0, msg, 10, enc.readableBytes());
        ByteBuf b = wrap(msg);
        b.readerIndex(10);
        DhchapSuccess1 s = (DhchapSuccess1) AuthMessage.decode(b);
        assertThat(s.transactionId()).isEqualTo(44);
        assertThat(s.response()).isEqualTo(fill(32, 7));
        assertThat(b.readerIndex()).isEqualTo(10);
    }

    @Test
    void unknown_or_misplaced_messages_are_incorrect_protocol_messages() {
        for (byte[] m : new byte[][] {{0x01, 0x00, 0, 0, 0, 0, 0, 0}, {0x00, 0x01, 0, 0, 0, 0, 0, 0},
                {0x02, (byte) 0xF1, 0, 0, 0, 0, 0, 0}, {0x01, 0x05, 0, 0, 0, 0, 0, 0}}) {
            Throwable t = catchThrowable(() -> AuthMessage.decode(wrap(m)));
            assertThat(t).isInstanceOf(AuthProtocolException.class);
            assertThat(((AuthProtocolException) t).explanation()).isEqualTo(FailureExplanation.INCORRECT_MESSAGE);
        }
        byte[] s2 = new byte[16];
        s2[0] = 1;
        s2[1] = 3;
        assertThatThrownBy(() -> DhchapSuccess2.parse(wrap(s2))).hasMessageContaining("expected 01h 04h");
    }

    @Test
    void encoders_refuse_values_that_do_not_fit_their_fields() {
        assertThatThrownBy(() -> new DhchapSuccess2(0x10000)).hasMessageContaining("T_ID");
        assertThatThrownBy(() -> new DhchapReply(1, fill(32, 0), fill(16, 0), 0, new byte[0])).hasMessageContaining("C2");
        assertThatThrownBy(() -> new DhchapSuccess1(1, 32, fill(48, 0))).hasMessageContaining("HL");
        assertThatThrownBy(() -> new AuthFailure(0, 0x02, 1, 1, 1)).hasMessageContaining("AUTH_ID");
        assertThat(FailureExplanation.fromCode(7)).isEqualTo(FailureExplanation.INCORRECT_MESSAGE);
        assertThat(FailureExplanation.fromCode(8)).isNull();
        assertThat(SecureChannel.fromCode(3)).isEqualTo(SecureChannel.REPLACE_TLS_PSK);
    }
}
