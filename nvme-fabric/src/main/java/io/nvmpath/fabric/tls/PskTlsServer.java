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
 * the suite of that key's hash; no certificate. The identity it accepted is handed on, so that the
 * Connect that follows can be held to it (its host NQN and subsystem NQN must be the identity's).
 */
final class PskTlsServer extends AbstractTlsServer {
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
        for (Object o : identities) {
            String identity = new String(((PskIdentity) o).getIdentity(), StandardCharsets.UTF_8);
            PskCredentials c = keys.apply(identity);
            if (c != null) {
                selected = c;
                return new BasicTlsPSKExternal(c.identityBytes(), getCrypto().createSecret(c.key()),
                        PskSuites.prf(c.hash()));
            }
        }
        return null;
    }

    /** No certificate: a PSK handshake needs none, and nothing else is offered. */
    @Override
    public org.bouncycastle.tls.TlsCredentials getCredentials() {
        return null;
    }

    @Override
    public void notifyHandshakeComplete() {
        onHandshake.accept(selected);
    }
}
