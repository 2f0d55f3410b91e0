package io.nvmpath.server.tls;

import io.netty.handler.ssl.SslContext;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import io.nvmpath.server.gateway.GatewayConfigLoader;
import io.nvmpath.config.ConfigException;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** PEM material in the forms operators are handed, and what is said when it is wrong. */
class TlsMaterialTest {
    private static X509Bundle root;
    private static X509Bundle rsa;
    private static X509Bundle ec;

    @TempDir
    Path dir;

    @BeforeAll
    static void certificates() throws Exception {
        root = new CertificateBuilder().subject("CN=nvmpath test root").setIsCertificateAuthority(true)
                .algorithm(CertificateBuilder.Algorithm.ecp256).buildSelfSigned();
        rsa = new CertificateBuilder().subject("CN=gateway-rsa").algorithm(CertificateBuilder.Algorithm.rsa2048)
                .buildIssuedBy(root);
        ec = new CertificateBuilder().subject("CN=gateway-ec").algorithm(CertificateBuilder.Algorithm.ecp256)
                .buildIssuedBy(root);
    }

    private Path write(String name, String text) throws Exception {
        Path p = dir.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    /**
     * The traditional OpenSSL form: PKCS#1 for RSA ("RSA PRIVATE KEY"); SEC1 for EC ("EC PRIVATE KEY"),
     * with the curve in its parameters as openssl writes it.
     */
    private static String traditional(X509Bundle b) throws Exception {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter pem = new JcaPEMWriter(w)) {
            if (b.getKeyPair().getPrivate() instanceof java.security.interfaces.ECPrivateKey k) {
                var info = org.bouncycastle.asn1.pkcs.PrivateKeyInfo.getInstance(k.getEncoded());
                var sec1 = new org.bouncycastle.asn1.sec.ECPrivateKey(k.getParams().getOrder().bitLength(), k.getS(),
                        info.getPrivateKeyAlgorithm().getParameters());
                pem.writeObject(new org.bouncycastle.util.io.pem.PemObject("EC PRIVATE KEY", sec1.getEncoded()));
            } else {
                pem.writeObject(b.getKeyPair());
            }
        }
        return w.toString();
    }

    private static String encryptedPkcs8(X509Bundle b, String passphrase) throws Exception {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter pem = new JcaPEMWriter(w)) {
            pem.writeObject(new JcaPKCS8Generator(b.getKeyPair().getPrivate(),
                    new JceOpenSSLPKCS8EncryptorBuilder(JcaPKCS8Generator.AES_256_CBC)
                            .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider())
                            .setPassword(passphrase.toCharArray()).build()));
        }
        return w.toString();
    }

    @Test
    void should_read_rsa_and_ec_keys_as_pkcs8_pkcs1_and_sec1_and_serve_with_them() throws Exception {
        Path rsaCert = write("rsa.crt", rsa.getCertificatePEM());
        Path ecCert = write("ec.crt", ec.getCertificatePEM());
        assertThat(traditional(rsa)).startsWith("-----BEGIN RSA PRIVATE KEY-----");
        assertThat(traditional(ec)).startsWith("-----BEGIN EC PRIVATE KEY-----");

        for (var c : List.of(
                List.of(rsaCert, write("rsa-pkcs8.key", rsa.getPrivateKeyPEM())),
                List.of(rsaCert, write("rsa-pkcs1.key", traditional(rsa))),
                List.of(ecCert, write("ec-pkcs8.key", ec.getPrivateKeyPEM())),
                List.of(ecCert, write("ec-sec1.key", "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n"
                        + "-----END EC PARAMETERS-----\n" + traditional(ec))))) {
            TlsMaterial m = TlsMaterial.load(c.get(0), c.get(1), null, null);
            SslContext ctx = m.serverContext();
            assertThat(ctx.isServer()).as(c.get(1).getFileName().toString()).isTrue();
            // load() signed with the key and verified with the certificate: this is the certificate's key
            assertThat(m.key().getAlgorithm()).as(c.get(1).getFileName().toString())
                    .isEqualTo(c.get(0) == rsaCert ? "RSA" : "EC");
        }
    }

    @Test
    void should_decrypt_an_encrypted_pkcs8_key_with_the_first_line_of_its_passphrase_file() throws Exception {
        Path cert = write("rsa.crt", rsa.getCertificatePEM());
        Path key = write("rsa.key", encryptedPkcs8(rsa, "s3cret phrase"));
        assertThat(Files.readString(key)).startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----");

        TlsMaterial m = TlsMaterial.load(cert, key, write("pass", "s3cret phrase\n"), null);
        assertThat(m.key().getEncoded()).isEqualTo(rsa.getKeyPair().getPrivate().getEncoded());

        assertThatThrownBy(() -> TlsMaterial.load(cert, key, write("wrong", "guess\n"), null))
                .isInstanceOf(TlsMaterialException.class).hasMessage(key + ": cannot decrypt it with the passphrase in "
                        + dir.resolve("wrong") + " (wrong passphrase?)")
                .hasMessageNotContaining("guess").hasMessageNotContaining("s3cret");
        assertThatThrownBy(() -> TlsMaterial.load(cert, key, null, null))
                .hasMessage(key + ": is encrypted: give its passphrase file (keyPassphrase)");
    }

    @Test
    void should_serve_a_chain_and_trust_a_client_ca() throws Exception {
        X509Bundle intermediate = new CertificateBuilder().subject("CN=nvmpath test intermediate")
                .setIsCertificateAuthority(true).algorithm(CertificateBuilder.Algorithm.ecp256).buildIssuedBy(root);
        X509Bundle leaf = new CertificateBuilder().subject("CN=gateway-chained")
                .algorithm(CertificateBuilder.Algorithm.ecp256).buildIssuedBy(intermediate);
        Path chain = write("chain.crt", leaf.getCertificatePEM() + intermediate.getCertificatePEM());

        TlsMaterial m = TlsMaterial.load(chain, write("leaf.key", leaf.getPrivateKeyPEM()), null,
                write("ca.crt", root.getCertificatePEM()));

        assertThat(m.chain()).extracting(c -> c.getSubjectX500Principal().getName())
                .containsExactly("CN=gateway-chained", "CN=nvmpath test intermediate");
        assertThat(m.clientCas()).hasSize(1);
        assertThat(m.describe()).startsWith("CN=gateway-chained, serial ").endsWith(", chain of 2");
        assertThat(m.serverContext().isServer()).isTrue();
    }

    @Test
    void should_name_the_file_and_the_reason_when_the_material_is_wrong() throws Exception {
        Path cert = write("rsa.crt", rsa.getCertificatePEM());
        Path otherKey = write("ec.key", ec.getPrivateKeyPEM());
        assertThatThrownBy(() -> TlsMaterial.load(cert, otherKey, null, null))
                .isInstanceOfSatisfying(TlsMaterialException.class, e -> assertThat(e.part())
                        .isEqualTo(TlsMaterialException.Part.KEY))
                .hasMessage(otherKey + ": does not belong to the certificate in " + cert + " (CN=gateway-rsa)");
        assertThatThrownBy(() -> TlsMaterial.load(cert, cert, null, null))
                .hasMessageStartingWith(cert + ": holds no private key (expected BEGIN PRIVATE KEY");
        Path notPem = write("junk.crt", "hello\n");
        assertThatThrownBy(() -> TlsMaterial.load(notPem, otherKey, null, null))
                .isInstanceOfSatisfying(TlsMaterialException.class, e -> assertThat(e.part())
                        .isEqualTo(TlsMaterialException.Part.CERTIFICATE))
                .hasMessageStartingWith(notPem + ": ");
        assertThatThrownBy(() -> TlsMaterial.load(cert, dir.resolve("none.key"), null, null))
                .hasMessage(dir.resolve("none.key") + ": no such file");
    }

    @Test
    void should_refuse_a_configuration_whose_key_does_not_match_naming_the_field() throws Exception {
        write("rsa.crt", rsa.getCertificatePEM());
        write("ec.key", ec.getPrivateKeyPEM());
        Path cfg = write("gateway.yaml", "nbd: {tls: {mode: require, certificate: rsa.crt, key: ec.key}}\n");

        assertThatThrownBy(() -> GatewayConfigLoader.load(cfg)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("nbd.tls.key: " + dir.resolve("ec.key") + ": does not belong to the certificate");
        write("rsa.key", traditional(rsa));
        Files.writeString(cfg, "nbd: {tls: {mode: require, certificate: rsa.crt, key: rsa.key}}\n");
        assertThat(GatewayConfigLoader.load(cfg).nbd().tls().key()).isEqualTo(dir.resolve("rsa.key"));
    }

    @Test
    void should_follow_changed_files_for_new_sessions_and_keep_the_old_context_while_they_are_wrong()
            throws Exception {
        Path cert = write("tls.crt", rsa.getCertificatePEM());
        Path key = write("tls.key", rsa.getPrivateKeyPEM());
        try (ReloadingTlsContext ctx = new ReloadingTlsContext("test", List.of(cert, key),
                () -> TlsMaterial.load(cert, key, null, null), Duration.ofHours(1))) {
            SslContext first = ctx.get();
            ctx.check();
            assertThat(ctx.get()).as("unchanged files: the same context").isSameAs(first);

            Files.writeString(cert, ec.getCertificatePEM()); // a rotation caught half-way: new cert, old key
            ctx.check();
            assertThat(ctx.get()).as("the old context stays while the files do not load").isSameAs(first);

            Files.writeString(key, ec.getPrivateKeyPEM());
            ctx.check();
            assertThat(ctx.get()).isNotSameAs(first);
        }
    }
}
