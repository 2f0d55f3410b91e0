package io.nvmpath.fabric.nvme;

/**
 * An Asynchronous Event, from the completion of an Asynchronous Event Request (dword 0).
 *
 * @param type event type (bits 2:0): 0 error, 1 SMART/health, 2 notice, 6 I/O command set, 7 vendor
 * @param info event information (bits 15:8); for notices: 00h namespace attribute changed,
 *             03h ANA change, F0h discovery log page change, F4h Cross-Controller Reset completed
 * @param logPage the log page to read to clear the event (bits 23:16)
 */
public record AsyncEvent(int type, int info, int logPage) {
    public static final int TYPE_ERROR = 0;
    public static final int TYPE_SMART = 1;
    public static final int TYPE_NOTICE = 2;
    public static final int NOTICE_NS_CHANGED = 0x00;
    public static final int NOTICE_ANA_CHANGE = 0x03;
    public static final int NOTICE_DISCOVERY_CHANGE = 0xF0;
    /** A Cross-Controller Reset this controller reported in progress has completed (read log 1Eh). */
    public static final int NOTICE_CCR_COMPLETED = 0xF4;

    /** Async Event Configuration bits (Set Features 0Bh) matching OAES bits of Identify Controller. */
    public static final int CFG_NS_ATTR = 1 << 8;
    public static final int CFG_ANA_CHANGE = 1 << 11;
    /** Cross-Controller Reset Completed Notice (CCRCN). */
    public static final int CFG_CCR_COMPLETED = 1 << 20;
    public static final int CFG_DISCOVERY_CHANGE = 1 << 31;

    public static AsyncEvent fromResult(int dw0) {
        return new AsyncEvent(dw0 & 0x7, (dw0 >>> 8) & 0xFF, (dw0 >>> 16) & 0xFF);
    }

    public boolean isNotice() {
        return type == TYPE_NOTICE;
    }

    public boolean isAnaChange() {
        return type == TYPE_NOTICE && info == NOTICE_ANA_CHANGE;
    }

    public boolean isNamespaceChange() {
        return type == TYPE_NOTICE && info == NOTICE_NS_CHANGED;
    }

    public boolean isDiscoveryChange() {
        return type == TYPE_NOTICE && info == NOTICE_DISCOVERY_CHANGE;
    }

    public boolean isCrossControllerResetCompleted() {
        return type == TYPE_NOTICE && info == NOTICE_CCR_COMPLETED;
    }

    @Override
    public String toString() {
        String what = switch (type) {
            case TYPE_NOTICE -> switch (info) {
                case NOTICE_NS_CHANGED -> "namespace attribute changed";
                case NOTICE_ANA_CHANGE -> "ANA change";
                case NOTICE_DISCOVERY_CHANGE -> "discovery log change";
                case NOTICE_CCR_COMPLETED -> "cross-controller reset completed";
                default -> String.format("notice 0x%02x", info);
            };
            case TYPE_ERROR -> String.format("error 0x%02x", info);
            case TYPE_SMART -> String.format("SMART/health 0x%02x", info);
            default -> String.format("type %d info 0x%02x", type, info);
        };
        return what + String.format(" (log page 0x%02x)", logPage);
    }
}
