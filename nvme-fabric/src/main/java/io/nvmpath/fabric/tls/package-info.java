/**
 * NVMe/TCP over TLS 1.3 with a pre-shared key (NVMe TCP Transport, TP8011): a Netty handler that sits
 * below the PDU codec, so nothing above it changes, and the Bouncy Castle TLS peers it drives. JSSE
 * has no TLS 1.3 external PSK; Bouncy Castle's TLS API has one, and its non-blocking mode (offer the
 * bytes read, take the bytes to write) fits a Netty pipeline without a thread of its own.
 *
 * <p>Only TLS 1.3, only PSK with (EC)DHE ({@code psk_dhe_ke}), only the suite of the PSK's hash:
 * TLS_AES_128_GCM_SHA256 for SHA-256, TLS_AES_256_GCM_SHA384 for SHA-384 — what the specification
 * requires and Linux's tlshd offers.
 */
package io.nvmpath.fabric.tls;
