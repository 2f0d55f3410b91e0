package io.nvmpath.server.nbd;

/**
 * What option haggling settled for one connection, handed from the handshake to the transmission
 * phase.
 *
 * @param export the export chosen by NBD_OPT_GO or NBD_OPT_EXPORT_NAME
 * @param transmissionFlags the flags sent to the client (NBD_FLAG_HAS_FLAGS...)
 * @param structuredReplies NBD_OPT_STRUCTURED_REPLY was acknowledged: every reply is structured
 * @param baseAllocation {@code base:allocation} was selected for this export: BLOCK_STATUS is allowed
 * @param maxPayload the largest READ or WRITE served; larger ones fail with EINVAL
 */
record NbdSession(NbdExport export, int transmissionFlags, boolean structuredReplies, boolean baseAllocation,
                  int maxPayload) {

    boolean has(int transmissionFlag) {
        return (transmissionFlags & transmissionFlag) != 0;
    }

    boolean readOnly() {
        return has(Nbd.FLAG_READ_ONLY);
    }
}
