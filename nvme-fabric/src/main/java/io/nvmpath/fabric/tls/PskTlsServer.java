package io.nvmpath.fabric.tls;

import org.bouncycastle.tls.AbstractTlsServer;
import org.bouncycastle.tls.BasicTlsPSKExternal;
import org.bouncycastle.tls.CipherSuite;
import org.bouncycastle.tls.PskIdentity;
import org.bouncycastle.tls.ProtocolVersion;
import org.bouncycastle.tls.TlsPSKExternal;
import org.bouncycastle.tls.crypto.TlsCrypto;

import java.nio.charset.StandardCharsets;
import java.util.Vector;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The target's TLS 1.3 peer: accepts the first offered PSK identity the port has a key for, with
 * the suite of its handshake hash ({@link PskCredentials#handshakeHash()}); no certificate. The identity it accepted is handed on, so that the
 * Connect that follows can be held to it (its host NQN and subsystem NQN must be the identity's).
 */
final class PskTlsServer extends AbstractTlsServer {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(PskTlsServer.class);
    private final Function<String, PskCredentials> keys;
    private final Consumer<PskCredentials> onHandshake;
    private PskCredentials selected;

    /**
     * @param keys the credentials of an offered identity, or null when this port has none for it
     * @param onHandshake told the credentials the handshake completed with
     */
    PskTlsServer(TlsCrypto crypto, Function<String, PskCredentials> keys, Consumer<PskCredentials> onHandshake) {
        super(crypto);
        this.keys = keys;
        this.onHandshake = onHandshake;
    }

    @Override
    protected ProtocolVersion[] getSupportedVersions() {
        return ProtocolVersion.TLSv13.only();
    }

    @Override
    protected int[] getSupportedCipherSuites() {
        return new int[] {CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384};
    }

    @Override
    public TlsPSKExternal getExternalPSK(Vector identities) {
        java.util.List<String> offered = new java.util.ArrayList<>();
        for (Object o : identities) {
            String identity = new String(((PskIdentity) o).getIdentity(), StandardCharsets.UTF_8);
            offered.add(identity);
            PskCredentials c = keys.apply(identity);
            if (c != null) {
                selected = c;
                log.debug("TLS: accepting PSK identity {}", identity);
                return new BasicTlsPSKExternal(c.identityBytes(), getCrypto().createSecret(c.key()),
                        PskSuites.prf(c.handshakeHash()));
            }
        }
        // an identity names a host and a subsystem, never a key: it may be logged
        log.info("TLS: no key for the offered PSK identities {}", offered);
        return null;
    }

    /**
     * The suite of the accepted PSK's handshake hash, whatever the host prefers: a TLS 1.3 PSK is bound
     * to the hash its binder was made with (RFC 8446 4.2.11).
     */
    @Override
    public int getSelectedCipherSuite() throws java.io.IOException {
        if (selected != null) {
            int[] acceptable = PskSuites.acceptable(selected.handshakeHash());
            for (int suite : acceptable) {
                for (int offered : offeredCipherSuites) {
                    if (offered == suite) {
                        return suite;
                    }
                }
            }
            log.info("TLS: the host offers {}, none of {} for PSK identity {}", names(offeredCipherSuites),
                    names(acceptable), selected.identity());
            throw new org.bouncycastle.tls.TlsFatalAlert(org.bouncycastle.tls.AlertDescription.handshake_failure);
        }
        int suite = super.getSelectedCipherSuite();
        log.debug("TLS: no PSK selected yet; suite {} of {}", PskSuites.name(suite), names(offeredCipherSuites));
        return suite;
    }

    /** No certificate: a PSK handshake needs none, and nothing else is offered. */
    @Override
    public org.bouncycastle.tls.TlsCredentials getCredentials() {
        return null;
    }

    /** The suite of the completed handshake, or -1 before. */
    private volatile int negotiated = -1;

    int negotiatedSuite() {
        return negotiated;
    }

    @Override
    public void notifyHandshakeComplete() {
        negotiated = context.getSecurityParametersConnection().getCipherSuite();
        onHandshake.accept(selected);
    }

    private static java.util.List<String> names(int[] suites) {
        return java.util.Arrays.stream(suites).mapToObj(PskSuites::name).toList();
    }
}
