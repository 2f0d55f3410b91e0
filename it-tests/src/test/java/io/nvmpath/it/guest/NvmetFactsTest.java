package io.nvmpath.it.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/**
 * Keeps guest/nvmet-facts.properties and the FACTS block of guest/scripts/nvmet-lib.sh equal
 * (key "a.b.c" = variable NVMET_A_B_C). Needs no guest: a plain unit test.
 */
class NvmetFactsTest {

    private static final Pattern ASSIGNMENT = Pattern.compile("NVMET_([A-Z0-9_]+)=(.*)");

    @Test
    void propertiesMatchTheScriptsFactsBlock() throws IOException {
        Path dir = Peers.guestDir();
        Map<String, String> fromScript = scriptFacts(dir.resolve("scripts").resolve("nvmet-lib.sh"));
        Map<String, String> fromProperties = NvmetFacts.load(dir).asMap();
        assertTrue(fromScript.size() >= 20, "FACTS block parsed: " + fromScript);
        List<String> diffs = new ArrayList<>();
        Set<String> keys = new TreeSet<>(fromProperties.keySet());
        keys.addAll(fromScript.keySet());
        for (String k : keys) {
            if (!Objects.equals(fromProperties.get(k), fromScript.get(k))) {
                diffs.add(k + ": properties=" + fromProperties.get(k) + " script(NVMET_"
                        + k.toUpperCase(Locale.ROOT).replace('.', '_') + ")=" + fromScript.get(k));
            }
        }
        assertTrue(diffs.isEmpty(), "nvmet-facts.properties and the FACTS block of nvmet-lib.sh differ:\n  "
                + String.join("\n  ", diffs));
    }

    @Test
    void factsAreSelfConsistent() {
        NvmetFacts f = NvmetFacts.load();
        assertEquals(2, f.namespaceCount());
        assertEquals(2, f.portCount());
        for (int ns = 1; ns <= f.namespaceCount(); ns++) {
            assertEquals(16, f.nguidBytes(ns).length, "NGUID of ns " + ns);
            assertEquals(16, f.uuidBytes(ns).length, "UUID of ns " + ns);
            assertEquals(0, f.sizeBytes(ns) % f.blockBytes(ns), "size of ns " + ns);
            assertEquals(ns, f.anaGroup(ns), "ns N is in ANA group N");
        }
        assertTrue(f.model().length() <= 40 && f.serial().length() <= 20, "MN <= 40, SN <= 20 bytes");
        assertEquals(4420, f.trsvcid(1));
        assertEquals(4421, f.trsvcid(2));
        assertEquals(NvmetGuest.AnaState.OPTIMIZED, NvmetGuest.AnaState.fromWire(f.anaState(1, 1)));
        assertEquals(NvmetGuest.AnaState.NON_OPTIMIZED, NvmetGuest.AnaState.fromWire(f.anaState(1, 2)));
        assertEquals(NvmetGuest.AnaState.NON_OPTIMIZED, NvmetGuest.AnaState.fromWire(f.anaState(2, 1)));
        assertEquals(NvmetGuest.AnaState.OPTIMIZED, NvmetGuest.AnaState.fromWire(f.anaState(2, 2)));
    }

    /** NVMET_* assignments between "# BEGIN FACTS" and "# END FACTS", as property keys. */
    static Map<String, String> scriptFacts(Path script) throws IOException {
        List<String> lines = Files.readAllLines(script, StandardCharsets.UTF_8);
        int begin = lines.indexOf("# BEGIN FACTS");
        int end = lines.indexOf("# END FACTS");
        assertTrue(begin >= 0 && end > begin, "FACTS block in " + script);
        Map<String, String> out = new TreeMap<>();
        for (String line : lines.subList(begin + 1, end)) {
            String t = line.trim();
            if (t.isEmpty() || t.startsWith("#")) {
                continue;
            }
            Matcher m = ASSIGNMENT.matcher(t);
            assertTrue(m.matches(), "FACTS lines must be NVMET_NAME=value: " + line);
            String value = m.group(2);
            if (value.length() >= 2 && (value.startsWith("\"") && value.endsWith("\"")
                    || value.startsWith("'") && value.endsWith("'"))) {
                value = value.substring(1, value.length() - 1);
            }
            out.put(m.group(1).toLowerCase(Locale.ROOT).replace('_', '.'), value);
        }
        return out;
    }
}
