/**
 * NVMe/TCP over TLS 1.3 with a pre-shared key (NVMe TCP Transport, TP8011): a Netty handler that sits
 * below the PDU codec, so nothing above it changes, and the Bouncy Castle TLS peers it drives. JSSE
 * has no TLS 1.3 external PSK; Bouncy Castle's TLS API has one, and its non-blocking mode (offer the
 * bytes read, take the bytes to write) fits a Netty pipeline without a thread of its own.
 *
 * <p>Only TLS 1.3, only PSK with (EC)DHE ({@code psk_dhe_ke}), and the SHA-256 handshake for every PSK,
 * SHA-384 ones included — what Linux's tlshd (ktls-utils 1.0) does on both sides, where the
 * specification would pair a SHA-384 PSK with TLS_AES_256_GCM_SHA384
 * ({@link io.nvmpath.fabric.tls.PskCredentials#handshakeHash()}): both sides use
 * TLS_AES_128_GCM_SHA256. Linux 6.12's host with a 48-byte PSK is the exception it cannot meet: its
 * tlshd client offers only SHA-384 suites while binding the PSK with SHA-256, so the target refuses it
 * and logs the suites it was offered.
 */
package io.nvmpath.fabric.tls;
