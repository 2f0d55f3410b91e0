package io.nvmpath.fabric.tls;

import org.bouncycastle.tls.AbstractTlsClient;
import org.bouncycastle.tls.BasicTlsPSKExternal;
import org.bouncycastle.tls.ProtocolVersion;
import org.bouncycastle.tls.TlsAuthentication;
import org.bouncycastle.tls.TlsCredentials;
import org.bouncycastle.tls.TlsFatalAlert;
import org.bouncycastle.tls.AlertDescription;
import org.bouncycastle.tls.TlsServerCertificate;
import org.bouncycastle.tls.crypto.TlsCrypto;

import java.util.Vector;

/**
 * The host's TLS 1.3 peer: offers one external PSK and the one cipher suite of its hash, and accepts
 * no certificate (a PSK handshake has none).
 */
final class PskTlsClient extends AbstractTlsClient {
    private final PskCredentials credentials;
    private final Runnable onHandshake;
    private final int[] suites;

    /** @param suites the cipher suites offered, in order: the PSK's own only, unless a test says otherwise */
    PskTlsClient(TlsCrypto crypto, PskCredentials credentials, Runnable onHandshake, int[] suites) {
        super(crypto);
        this.credentials = credentials;
        this.onHandshake = onHandshake;
        this.suites = suites == null ? new int[] {PskSuites.cipherSuite(credentials.handshakeHash())} : suites.clone();
    }

    @Override
    protected ProtocolVersion[] getSupportedVersions() {
        return ProtocolVersion.TLSv13.only();
    }

    @Override
    protected int[] getSupportedCipherSuites() {
        return suites.clone();
    }

    @Override
    public Vector getExternalPSKs() {
        Vector<BasicTlsPSKExternal> v = new Vector<>();
        v.add(new BasicTlsPSKExternal(credentials.identityBytes(), getCrypto().createSecret(credentials.key()),
                PskSuites.prf(credentials.handshakeHash())));
        return v;
    }

    @Override
    public TlsAuthentication getAuthentication() {
        return new TlsAuthentication() {
            @Override
            public void notifyServerCertificate(TlsServerCertificate certificate) throws java.io.IOException {
                throw new TlsFatalAlert(AlertDescription.unsupported_certificate);
            }

            @Override
            public TlsCredentials getClientCredentials(org.bouncycastle.tls.CertificateRequest request) {
                return null;
            }
        };
    }

    /** The suite of the completed handshake, or -1 before. */
    private volatile int negotiated = -1;

    int negotiatedSuite() {
        return negotiated;
    }

    @Override
    public void notifyHandshakeComplete() {
        negotiated = context.getSecurityParametersConnection().getCipherSuite();
        onHandshake.run();
    }
}
