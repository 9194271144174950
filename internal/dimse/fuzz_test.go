package dimse

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Seeds in testdata/fuzz/FuzzReadPDU and testdata/fuzz/FuzzAssemble are client streams
// of real dcmtk exchanges (echoscu, storescu with fragmented PDUs, findscu with
// C-CANCEL), written by TestRecordSeeds with CIE_DIMSE_RECORD_SEEDS=1.

// FuzzReadPDU reads a stream of PDUs and decodes each: errors are fine, panics and
// allocations beyond the limits are not.
func FuzzReadPDU(f *testing.F) {
	f.Add(validRQ())
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		for i := 0; i < 64; i++ {
			typ, body, err := readPDU(br, 1<<16, nil)
			if err != nil {
				return
			}
			if len(body) > MaxAssociatePDULength {
				t.Fatalf("PDU body of %d bytes accepted", len(body))
			}
			switch typ {
			case pduAssociateRQ, pduAssociateAC:
				if a, err := decodeAssociate(typ, body); err == nil {
					// What decodes must encode and decode again to the same contexts.
					back, err := decodeAssociate(typ, a.encode(typ)[6:])
					if err != nil || len(back.contexts) != len(a.contexts) {
						t.Fatalf("re-decoding an encoded A-ASSOCIATE: %v", err)
					}
				}
			case pduPDataTF:
				_ = parsePDVs(body, func(pdv) error { return nil })
			}
		}
	})
}

// FuzzAssemble feeds the PDVs of a stream of P-DATA-TF PDUs to the message assembler
// with bounded sinks, as the SCP does.
func FuzzAssemble(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		asm := &assembler{
			validCtx: func(id byte) bool { return id%2 == 1 },
			sink:     func(byte, *command) io.Writer { return &limitedBuffer{max: 1 << 16} },
		}
		for i := 0; i < 256; i++ {
			typ, body, err := readPDU(br, 1<<16, nil)
			if err != nil {
				return
			}
			if typ != pduPDataTF {
				continue
			}
			err = parsePDVs(body, func(p pdv) error {
				m, err := asm.add(p)
				if m != nil && m.cmd == nil {
					t.Fatal("message without command")
				}
				return err
			})
			if err != nil {
				return
			}
		}
	})
}

// TestRecordSeeds records the client side of real dcmtk exchanges as fuzz seeds.
func TestRecordSeeds(t *testing.T) {
	if os.Getenv("CIE_DIMSE_RECORD_SEEDS") != "1" {
		t.Skip("set CIE_DIMSE_RECORD_SEEDS=1 to record fuzz seeds from dcmtk")
	}
	srvAddr, _ := startServer(t, Config{AETitle: "CIE"}, &testStore{dir: t.TempDir()}, &testFind{})
	addr, rec := startRecorder(t, srvAddr)
	h, p := hostPort(t, addr)
	mr := filepath.Join(pydicomDir(t), "MR_small.dcm")
	runs := [][]string{
		{"echoscu", "-aec", "CIE", h, p},
		{"storescu", "-aec", "CIE", "--max-send-pdu", "4096", h, p, mr},
		{"findscu", "-S", "--cancel", "2", "-aec", "CIE", "-k", "QueryRetrieveLevel=IMAGE", "-k", "SOPInstanceUID", h, p},
	}
	for _, r := range runs {
		if out, err := runTool(t, r[0], r[1:]...); err != nil {
			t.Fatalf("%v: %v\n%s", r, err, out)
		}
	}
	names := []string{"echoscu", "storescu-fragmented", "findscu-cancel"}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.streams) != len(names) {
		t.Fatalf("%d streams recorded", len(rec.streams))
	}
	for _, target := range []string{"FuzzReadPDU", "FuzzAssemble"} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range rec.streams {
			seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.Bytes())
			if err := os.WriteFile(filepath.Join(dir, "dcmtk-"+names[i]), []byte(seed), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
