package dimse

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// startStorescp runs dcmtk's storescp writing into dir until the test ends.
func startStorescp(t *testing.T, dir string) string {
	bin := requireTool(t, "storescp")
	port := freePort(t)
	cmd := exec.Command(bin, "-aet", "STORESCP", "-od", dir, "+B", port)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("storescp output:\n%s", out.String())
		}
	})
	addr := "127.0.0.1:" + port
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("storescp did not listen on %s", addr)
	return ""
}

func TestSCUAgainstStorescp(t *testing.T) {
	dir := t.TempDir()
	addr := startStorescp(t, dir)
	src := filepath.Join(pydicomDir(t), "CT_small.dcm")
	f, closer, err := dicom.ParseFile(src, dicom.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	closer.Close()
	ctx := context.Background()
	// A small maximum PDU length at storescp (-pdu default 16384) makes our SCU fragment.
	as, err := Dial(ctx, addr, "CIESCU", "STORESCP", []PresentationContext{
		{VerificationSOPClass, []string{dicom.ImplicitVRLittleEndianUID}},
		{f.Meta.Text(dicom.NewTag(2, 2)), []string{f.TS.UID}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if as.MaxSendLength() > 1<<20 {
		t.Fatalf("max send length %d", as.MaxSendLength())
	}
	if err := as.Echo(ctx); err != nil {
		t.Fatalf("C-ECHO to storescp: %v", err)
	}
	st, err := as.StoreFile(ctx, src)
	if err != nil || st != StatusSuccess {
		t.Fatalf("C-STORE to storescp: %v %v", st, err)
	}
	if err := as.Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := as.Echo(ctx); err == nil {
		t.Fatal("Echo after Release succeeded")
	}
	// storescp wrote the file with the data set it received: compare.
	var got string
	for i := 0; i < 100 && got == ""; i++ {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			got = filepath.Join(dir, e.Name())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got == "" {
		t.Fatal("storescp wrote no file")
	}
	want, _, err := dataSetBytes(t, src)
	if err != nil {
		t.Fatal(err)
	}
	have, _, err := dataSetBytes(t, got)
	if err != nil {
		t.Fatal(err)
	}
	nw, _ := normalized(want, f.TS)
	nh, _ := normalized(have, f.TS)
	if !bytes.Equal(nw, nh) {
		t.Fatalf("storescp stored a different data set (%d bytes, sent %d)", len(have), len(want))
	}
}

// TestSCUToServerCorpus sends every Part 10 file of pydicom's test_files with our SCU to
// our SCP, each in its own transfer syntax, and checks that the StoreHandler gets the
// file's data set byte for byte.
func TestSCUToServerCorpus(t *testing.T) {
	store := &testStore{dir: t.TempDir()}
	addr, _ := startServer(t, Config{AETitle: "CIE"}, store, nil)
	files := corpusFiles(t)
	ctx := context.Background()
	sent := 0
	for _, p := range files {
		orig, f, err := dataSetBytes(t, p)
		if err != nil {
			continue // not a Part 10 file
		}
		cls, inst := f.Meta.Text(dicom.NewTag(2, 2)), f.Meta.Text(dicom.NewTag(2, 3))
		if !IsStorageSOPClass(cls) || inst == "" {
			continue
		}
		if f.Dataset.Implicit() != f.TS.Implicit {
			t.Logf("%s: skipped: its data set is not in the encoding its meta group names (%s)", p, f.TS.UID)
			continue
		}
		as, err := Dial(ctx, addr, "SCU", "CIE", []PresentationContext{{cls, []string{f.TS.UID}}}, &DialOptions{MaxPDULength: 4096})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		st, err := as.StoreFile(ctx, p)
		if err != nil || st != StatusSuccess {
			t.Fatalf("%s: %v %v", p, st, err)
		}
		if err := as.Release(ctx); err != nil {
			t.Fatal(err)
		}
		store.mu.Lock()
		r := store.got[len(store.got)-1]
		store.mu.Unlock()
		if r.sopInstance != inst || r.ts.UID != f.TS.UID || !bytes.Equal(r.data, orig) {
			t.Errorf("%s: received %s in %s, %d bytes; want %s in %s, %d bytes, byte for byte", p, r.sopInstance, r.ts.UID, len(r.data), inst, f.TS.UID, len(orig))
		}
		sent++
	}
	t.Logf("%d files sent by our SCU, each byte-identical at the StoreHandler", sent)
	if sent < 100 {
		t.Errorf("only %d files sent", sent)
	}
}

// TestStoreFailureStatus checks that the handler's status reaches the SCU, and that a
// response is sent only after the handler returned.
func TestStoreFailureStatus(t *testing.T) {
	release := make(chan struct{})
	store := &testStore{dir: t.TempDir(), fail: func(req *StoreRequest) (Status, error) {
		<-release
		if strings.HasSuffix(req.SOPInstanceUID, ".9") {
			return StatusOutOfResources, fmt.Errorf("disk full")
		}
		return StatusSuccess, nil
	}}
	addr, _ := startServer(t, Config{}, store, nil)
	ctx := context.Background()
	as, err := Dial(ctx, addr, "SCU", "CIE", []PresentationContext{{"1.2.840.10008.5.1.4.1.1.7", []string{dicom.ExplicitVRLittleEndianUID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer as.Abort()
	ds := dicom.NewDataset(dicom.TransferSyntaxFor(dicom.ExplicitVRLittleEndianUID))
	_ = ds.Set(dicom.NewTag(0x10, 0x10), dicom.PN, dicom.PadText(dicom.PN, "Test^Patient"))
	var b bytes.Buffer
	if _, err := ds.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	done := make(chan Status, 1)
	go func() {
		st, err := as.Store(ctx, "1.2.840.10008.5.1.4.1.1.7", "1.2.3.9", dicom.ExplicitVRLittleEndianUID, bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Error(err)
		}
		done <- st
	}()
	select {
	case st := <-done:
		t.Fatalf("response %v before the handler returned", st)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if st := <-done; st != StatusOutOfResources {
		t.Fatalf("status %v, want %v", st, StatusOutOfResources)
	}
	st, err := as.Store(ctx, "1.2.840.10008.5.1.4.1.1.7", "1.2.3.4", dicom.ExplicitVRLittleEndianUID, bytes.NewReader(b.Bytes()))
	if err != nil || st != StatusSuccess {
		t.Fatalf("second store: %v %v", st, err)
	}
	// A SOP class that was not negotiated: no context, no request sent.
	if _, err := as.Store(ctx, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.5", dicom.ExplicitVRLittleEndianUID, bytes.NewReader(b.Bytes())); err == nil {
		t.Fatal("store without context succeeded")
	}
}

// TestSpoolRenameAndCleanup checks that a handler may take the spool file by renaming it
// (and keeps it intact), that a spool left in place is reused, and that no spool file
// survives the association.
func TestSpoolRenameAndCleanup(t *testing.T) {
	spool, keep := t.TempDir(), t.TempDir()
	var n int
	store := StoreFunc(func(ctx context.Context, req *StoreRequest) (Status, error) {
		n++
		if n%2 == 1 { // take every other one
			if err := os.Rename(req.Path, filepath.Join(keep, req.SOPInstanceUID)); err != nil {
				return StatusProcessingFailure, err
			}
		}
		return StatusSuccess, nil
	})
	addr, _ := startServer(t, Config{SpoolDir: spool, MemorySpool: -1}, store, nil)
	ctx := context.Background()
	cls := "1.2.840.10008.5.1.4.1.1.7"
	as, err := Dial(ctx, addr, "SCU", "CIE", []PresentationContext{{cls, []string{dicom.ExplicitVRLittleEndianUID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for i := 1; i <= 6; i++ {
		ds := dicom.NewDataset(dicom.TransferSyntaxFor(dicom.ExplicitVRLittleEndianUID))
		_ = ds.Set(dicom.NewTag(0x10, 0x10), dicom.PN, dicom.PadText(dicom.PN, strings.Repeat("X", 10*(7-i))))
		var b bytes.Buffer
		_, _ = ds.WriteTo(&b)
		uid := fmt.Sprintf("1.2.3.%d", i)
		if i%2 == 1 {
			want[uid] = b.Bytes()
		}
		if st, err := as.Store(ctx, cls, uid, dicom.ExplicitVRLittleEndianUID, &b); err != nil || st != StatusSuccess {
			t.Fatalf("store %d: %v %v", i, st, err)
		}
	}
	if err := as.Release(ctx); err != nil {
		t.Fatal(err)
	}
	for uid, b := range want {
		got, err := os.ReadFile(filepath.Join(keep, uid))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("taken spool file %s: %v, %d bytes, want %d", uid, err, len(got), len(b))
		}
	}
	var left []os.DirEntry
	for i := 0; i < 100; i++ {
		if left, _ = os.ReadDir(spool); len(left) == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(left) != 0 {
		t.Fatalf("%d spool files left after the association", len(left))
	}
}

// TestMemorySpool checks that small data sets reach the handler from memory, a data set
// that outgrows Config.MemorySpool moves to the spool file mid-transfer intact, and the
// next small one is in memory again.
func TestMemorySpool(t *testing.T) {
	type got struct {
		data   []byte
		onDisk bool
	}
	var seen []got
	store := StoreFunc(func(ctx context.Context, req *StoreRequest) (Status, error) {
		b, err := io.ReadAll(io.NewSectionReader(req.Data, 0, req.Size))
		if err != nil {
			return StatusProcessingFailure, err
		}
		seen = append(seen, got{b, req.Path != ""})
		return StatusSuccess, nil
	})
	addr, _ := startServer(t, Config{SpoolDir: t.TempDir(), MemorySpool: 1000, MaxPDULength: 1024}, store, nil)
	ctx := context.Background()
	cls := "1.2.840.10008.5.1.4.1.1.7"
	as, err := Dial(ctx, addr, "SCU", "CIE", []PresentationContext{{cls, []string{dicom.ExplicitVRLittleEndianUID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sent [][]byte
	for i, n := range []int{200, 5000, 300} {
		ds := dicom.NewDataset(dicom.TransferSyntaxFor(dicom.ExplicitVRLittleEndianUID))
		_ = ds.Set(dicom.NewTag(0x10, 0x10), dicom.PN, dicom.PadText(dicom.PN, strings.Repeat(string(rune('A'+i)), n)))
		var b bytes.Buffer
		_, _ = ds.WriteTo(&b)
		sent = append(sent, append([]byte(nil), b.Bytes()...))
		if st, err := as.Store(ctx, cls, fmt.Sprintf("1.2.3.%d", i), dicom.ExplicitVRLittleEndianUID, &b); err != nil || st != StatusSuccess {
			t.Fatalf("store %d: %v %v", i, st, err)
		}
	}
	if err := as.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 {
		t.Fatalf("handler saw %d stores, want 3", len(seen))
	}
	for i, g := range seen {
		if !bytes.Equal(g.data, sent[i]) {
			t.Errorf("store %d: handler read %d bytes, different from the %d sent", i, len(g.data), len(sent[i]))
		}
		if want := i == 1; g.onDisk != want {
			t.Errorf("store %d of %d bytes: on disk %v, want %v", i, len(sent[i]), g.onDisk, want)
		}
	}
}
