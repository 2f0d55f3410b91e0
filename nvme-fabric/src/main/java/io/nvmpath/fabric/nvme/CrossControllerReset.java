package io.nvmpath.fabric.nvme;

/**
 * The Cross-Controller Reset command (admin opcode 38h, TP8028 Rapid Path Failure Recovery): sent to
 * a controller the host can still reach, it resets another controller of the same subsystem, the
 * impacted one, so that nothing that controller still holds is executed after the reset completes.
 * The impacted controller is named by its CNTLID and by the instance it was when the host last saw
 * it: CIU and CIRN from its Identify Controller data, which change whenever CSTS.RDY is set.
 *
 * <p>Layout: CDW10 bits 15:0 ICID, bits 23:16 CIU; CDW12 and CDW13 the low and high halves of CIRN.
 *
 * @param icid Impacted Controller ID
 * @param ciu the impacted controller's Controller Instance Uniquifier (8 bits)
 * @param cirn the impacted controller's Controller Instance Random Number
 */
public record CrossControllerReset(int icid, int ciu, long cirn) {
    public CrossControllerReset {
        if (icid < 0 || icid > 0xFFFF) {
            throw new IllegalArgumentException("ICID must be 0..65535, not " + icid);
        }
        if (ciu < 0 || ciu > 0xFF) {
            throw new IllegalArgumentException("CIU must be 0..255, not " + ciu);
        }
    }

    /** The reset of the controller {@code id} describes. */
    public static CrossControllerReset of(IdentifyController id) {
        return new CrossControllerReset(id.cntlid(), id.ciu(), id.cirn());
    }

    /** The submission entry; no data. */
    public Sqe toSqe() {
        return Sqe.of(Opcodes.ADMIN_CROSS_CONTROLLER_RESET)
                .cdw(10, icid | (ciu << 16))
                .cdw(12, (int) cirn)
                .cdw(13, (int) (cirn >>> 32));
    }

    /** Reads the fields of a received command (the target's side). */
    public static CrossControllerReset from(Sqe sqe) {
        int cdw10 = sqe.cdw(10);
        return new CrossControllerReset(cdw10 & 0xFFFF, (cdw10 >>> 16) & 0xFF,
                (sqe.cdw(12) & 0xFFFFFFFFL) | ((long) sqe.cdw(13) << 32));
    }

    /**
     * The completion's dword 0 of a successful Cross-Controller Reset.
     *
     * @param immediate IRS, Immediate Reset Successful: the impacted controller is reset already; when
     *                  clear the reset is in progress, its entry is in the Cross-Controller Reset log
     *                  and a Cross-Controller Reset Completed notice follows
     * @param validated V: the impacted controller was found and matched (undefined without IRS)
     * @param resetInitiated CLRI: a Controller Level Reset of it was initiated (undefined without IRS)
     */
    public record Result(boolean immediate, boolean validated, boolean resetInitiated) {
        public static final int IRS = 1;
        public static final int V = 1 << 1;
        public static final int CLRI = 1 << 2;

        /** The reset is not done yet: wait for the notice, or read the log. */
        public static final Result IN_PROGRESS = new Result(false, false, false);
        /** The impacted controller was found and reset at once. */
        public static final Result RESET = new Result(true, true, true);

        public static Result fromDw0(int dw0) {
            return new Result((dw0 & IRS) != 0, (dw0 & V) != 0, (dw0 & CLRI) != 0);
        }

        public int dw0() {
            return (immediate ? IRS : 0) | (validated ? V : 0) | (resetInitiated ? CLRI : 0);
        }
    }
}
