package io.nvmpath.server.tls;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMException;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8DecryptorProviderBuilder;
import org.bouncycastle.openssl.jcajce.JcePEMDecryptorProviderBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.bouncycastle.pkcs.PKCSException;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * A server's TLS material as operators are handed it, in PEM: a certificate chain (leaf first), a
 * private key as PKCS#8, PKCS#1 ({@code BEGIN RSA PRIVATE KEY}: GnuTLS's certtool, cert-manager's
 * default), SEC1 ({@code BEGIN EC PRIVATE KEY}), encrypted PKCS#8 or OpenSSL's legacy encrypted PEM
 * with a passphrase file, and optionally the CAs that client certificates must chain to.
 *
 * <p>Bouncy Castle's PEM reader parses the key forms the JDK does not (Netty reads PKCS#8 only); the
 * JDK's certificate factory reads the certificates. {@link #load} checks that the key belongs to the
 * leaf certificate, so a mismatch is a configuration error naming the files, not a failed handshake.
 *
 * @param key the private key
 * @param chain the certificate chain, leaf first
 * @param clientCas trust anchors for client certificates; empty when clients are not authenticated
 */
public record TlsMaterial(PrivateKey key, List<X509Certificate> chain, List<X509Certificate> clientCas) {
    /** Decrypts what the JDK's providers may not (scrypt, legacy DES): used for that alone, not installed. */
    private static final Provider BC = new BouncyCastleProvider();

    public TlsMaterial {
        chain = List.copyOf(chain);
        clientCas = List.copyOf(clientCas);
    }

    /**
     * Reads and checks the files.
     *
     * @param passphrase file holding the key's passphrase (its first line), or null for a plain key
     * @param clientCa PEM file of client CAs, or null
     * @throws TlsMaterialException naming the file and what is wrong with it
     */
    public static TlsMaterial load(Path certificate, Path key, Path passphrase, Path clientCa)
            throws TlsMaterialException {
        List<X509Certificate> chain = certificates(certificate, TlsMaterialException.Part.CERTIFICATE);
        char[] pass = passphrase == null ? null : passphrase(passphrase);
        PrivateKey k = privateKey(key, pass, passphrase);
        if (!matches(k, chain.get(0))) {
            throw new TlsMaterialException(TlsMaterialException.Part.KEY, key,
                    "does not belong to the certificate in " + certificate + " (" + subject(chain.get(0)) + ")");
        }
        List<X509Certificate> cas = clientCa == null ? List.of()
                : certificates(clientCa, TlsMaterialException.Part.CLIENT_CA);
        return new TlsMaterial(k, chain, cas);
    }

    /** A Netty server context: TLS 1.2 and 1.3, client certificates required when client CAs are set. */
    public SslContext serverContext() throws SSLException {
        return serverContext(ClientAuth.REQUIRE);
    }

    /**
     * A Netty server context: TLS 1.2 and 1.3; when client CAs are set, client certificates are asked
     * for as {@code clientAuth} says ({@code OPTIONAL}: a client without one is served, one with a
     * certificate that does not chain to the CAs is refused).
     */
    public SslContext serverContext(ClientAuth clientAuth) throws SSLException {
        SslContextBuilder b = SslContextBuilder.forServer(key, chain.toArray(X509Certificate[]::new))
                .protocols("TLSv1.3", "TLSv1.2");
        if (!clientCas.isEmpty()) {
            b.trustManager(clientCas.toArray(X509Certificate[]::new)).clientAuth(clientAuth);
        }
        return b.build();
    }

    /** The leaf for a log line: subject, serial and expiry — never key material. */
    public String describe() {
        X509Certificate leaf = chain.get(0);
        return subject(leaf) + ", serial " + leaf.getSerialNumber().toString(16) + ", valid until "
                + Instant.ofEpochMilli(leaf.getNotAfter().getTime()) + (chain.size() > 1 ? ", chain of " + chain.size() : "");
    }

    private static String subject(X509Certificate c) {
        return c.getSubjectX500Principal().getName();
    }

    private static List<X509Certificate> certificates(Path file, TlsMaterialException.Part part)
            throws TlsMaterialException {
        Collection<? extends java.security.cert.Certificate> read;
        try (InputStream in = Files.newInputStream(file)) {
            read = CertificateFactory.getInstance("X.509").generateCertificates(in);
        } catch (NoSuchFileException e) {
            throw new TlsMaterialException(part, file, "no such file");
        } catch (IOException e) {
            throw new TlsMaterialException(part, file, "cannot read it: " + e.getMessage(), e);
        } catch (CertificateException e) {
            throw new TlsMaterialException(part, file, "not a PEM certificate: " + e.getMessage(), e);
        }
        List<X509Certificate> out = new ArrayList<>();
        for (java.security.cert.Certificate c : read) {
            out.add((X509Certificate) c);
        }
        if (out.isEmpty()) {
            throw new TlsMaterialException(part, file, "holds no certificate (expected BEGIN CERTIFICATE)");
        }
        return out;
    }

    private static char[] passphrase(Path file) throws TlsMaterialException {
        try {
            String s = Files.readString(file, StandardCharsets.UTF_8);
            int nl = s.indexOf('\n');
            String line = nl < 0 ? s : s.substring(0, nl);
            return (line.endsWith("\r") ? line.substring(0, line.length() - 1) : line).toCharArray();
        } catch (NoSuchFileException e) {
            throw new TlsMaterialException(TlsMaterialException.Part.KEY_PASSPHRASE, file, "no such file");
        } catch (IOException e) {
            throw new TlsMaterialException(TlsMaterialException.Part.KEY_PASSPHRASE, file,
                    "cannot read it: " + e.getMessage(), e);
        }
    }

    private static PrivateKey privateKey(Path file, char[] pass, Path passFile) throws TlsMaterialException {
        TlsMaterialException.Part part = TlsMaterialException.Part.KEY;
        JcaPEMKeyConverter convert = new JcaPEMKeyConverter();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser pem = new PEMParser(r)) {
            for (Object o = pem.readObject(); o != null; o = pem.readObject()) {
                switch (o) {
                    case PrivateKeyInfo info -> {
                        return convert.getPrivateKey(info); // PKCS#8
                    }
                    case PEMKeyPair pair -> {
                        // PKCS#1 RSA, SEC1 EC (whose public key is optional), DSA
                        return convert.getPrivateKey(pair.getPrivateKeyInfo());
                    }
                    case PKCS8EncryptedPrivateKeyInfo encrypted -> {
                        requirePassphrase(file, pass);
                        try {
                            return convert.getPrivateKey(encrypted.decryptPrivateKeyInfo(
                                    new JceOpenSSLPKCS8DecryptorProviderBuilder().setProvider(BC).build(pass)));
                        } catch (PKCSException e) {
                            throw new TlsMaterialException(part, file, "cannot decrypt it with the passphrase in "
                                    + passFile + " (wrong passphrase?)");
                        }
                    }
                    case PEMEncryptedKeyPair legacy -> {
                        requirePassphrase(file, pass);
                        try {
                            return convert.getPrivateKey(legacy.decryptKeyPair(
                                    new JcePEMDecryptorProviderBuilder().setProvider(BC).build(pass)).getPrivateKeyInfo());
                        } catch (PEMException e) {
                            throw new TlsMaterialException(part, file, "cannot decrypt it with the passphrase in "
                                    + passFile + " (wrong passphrase?)");
                        }
                    }
                    case ASN1ObjectIdentifier curve -> {
                        // "BEGIN EC PARAMETERS", which openssl ecparam writes before the key
                    }
                    case X509CertificateHolder cert -> {
                        // a certificate in the same file: the key is what is looked for
                    }
                    default -> throw new TlsMaterialException(part, file,
                            "holds " + o.getClass().getSimpleName() + ", not a private key");
                }
            }
        } catch (NoSuchFileException e) {
            throw new TlsMaterialException(part, file, "no such file");
        } catch (PEMException e) {
            throw new TlsMaterialException(part, file, "not a usable PEM private key: " + e.getMessage(), e);
        } catch (IOException | OperatorCreationException e) {
            throw new TlsMaterialException(part, file, "cannot read it: " + e.getMessage(), e);
        }
        throw new TlsMaterialException(part, file, "holds no private key (expected BEGIN PRIVATE KEY, BEGIN RSA"
                + " PRIVATE KEY, BEGIN EC PRIVATE KEY or BEGIN ENCRYPTED PRIVATE KEY)");
    }

    private static void requirePassphrase(Path file, char[] pass) throws TlsMaterialException {
        if (pass == null) {
            throw new TlsMaterialException(TlsMaterialException.Part.KEY, file,
                    "is encrypted: give its passphrase file (keyPassphrase)");
        }
    }

    /** Whether {@code key} signs what the certificate's public key verifies. */
    private static boolean matches(PrivateKey key, X509Certificate cert) {
        try {
            Signature sign;
            switch (key.getAlgorithm()) {
                case "RSA" -> sign = Signature.getInstance("SHA256withRSA");
                case "EC" -> sign = Signature.getInstance("SHA256withECDSA");
                case "RSASSA-PSS" -> {
                    sign = Signature.getInstance("RSASSA-PSS");
                    sign.setParameter(new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1));
                }
                default -> sign = Signature.getInstance(key.getAlgorithm()); // Ed25519, Ed448
            }
            byte[] probe = new byte[32];
            new SecureRandom().nextBytes(probe);
            sign.initSign(key);
            sign.update(probe);
            byte[] signature = sign.sign();
            sign.initVerify(cert.getPublicKey());
            sign.update(probe);
            return sign.verify(signature);
        } catch (GeneralSecurityException e) {
            return false; // a key of another kind than the certificate's, or one the certificate cannot verify
        }
    }
}
