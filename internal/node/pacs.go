package node

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/dimse"
	"github.com/cancerimage/cie/internal/node/archive"
	"github.com/cancerimage/cie/internal/node/index"
)

// batchIdle is how long a DIMSE sender may pause before its ingest is counted as ended.
const batchIdle = 5 * time.Second

// pacs is the node's DIMSE side: C-STORE into the archive (each association's instances
// counted as one ingest) and C-FIND over the index.
type pacs struct {
	archive *archive.Archive
	log     *slog.Logger

	mu      sync.Mutex
	batches map[string]*liveBatch // by calling AE and remote address
}

type liveBatch struct {
	b    *archive.Batch
	last time.Time
}

func newPACS(a *archive.Archive, log *slog.Logger) *pacs {
	return &pacs{archive: a, log: log, batches: map[string]*liveBatch{}}
}

func (p *pacs) batch(ctx context.Context, caller, addr string) (*archive.Batch, error) {
	key := caller + "@" + addr
	p.mu.Lock()
	defer p.mu.Unlock()
	if lb, ok := p.batches[key]; ok {
		lb.last = time.Now()
		return lb.b, nil
	}
	b, err := p.archive.Begin(ctx, archive.Source{Kind: "dimse", Peer: caller})
	if err != nil {
		return nil, err
	}
	p.batches[key] = &liveBatch{b: b, last: time.Now()}
	return b, nil
}

// endIdle records the ingests of senders idle for batchIdle (all of them when all is true).
func (p *pacs) endIdle(ctx context.Context, all bool) {
	p.mu.Lock()
	var done []*archive.Batch
	for k, lb := range p.batches {
		if all || time.Since(lb.last) > batchIdle {
			done = append(done, lb.b)
			delete(p.batches, k)
		}
	}
	p.mu.Unlock()
	for _, b := range done {
		if err := b.End(ctx); err != nil {
			p.log.Error("recording a DIMSE ingest", "err", err)
		}
	}
}

// run ends idle ingests until ctx is done, then ends the rest.
func (p *pacs) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.endIdle(context.Background(), true)
			return
		case <-t.C:
			p.endIdle(ctx, false)
		}
	}
}

// Store ingests one C-STORE; the response goes out only after the instance is durably
// stored and indexed (or quarantined).
func (p *pacs) Store(ctx context.Context, req *dimse.StoreRequest) (dimse.Status, error) {
	b, err := p.batch(ctx, req.CallingAE, req.RemoteAddr.String())
	if err != nil {
		return dimse.StatusOutOfResources, err
	}
	out, err := b.IngestDataset(ctx, req.Data, req.Size, req.TransferSyntax, req.SOPClassUID, req.SOPInstanceUID)
	if err != nil {
		return dimse.StatusOutOfResources, fmt.Errorf("storing: %w", err)
	}
	if out.Status == archive.Quarantined && out.Reason == archive.ReasonUnreadable {
		return dimse.StatusCannotUnderstand, fmt.Errorf("unreadable: %s", out.Detail)
	}
	// Stored, already there, or held in quarantine for the data holder: the node has it.
	return dimse.StatusSuccess, nil
}

// Find answers C-FIND at STUDY, SERIES and IMAGE level from the index.
func (p *pacs) Find(ctx context.Context, req *dimse.FindRequest, yield func(*dicom.Dataset) error) (dimse.Status, error) {
	q := index.Query{Match: map[dicom.Tag]string{}, Limit: index.MaxLimit}
	switch strings.ToUpper(req.Level) {
	case "STUDY":
		q.Level = index.StudyLevel
	case "SERIES":
		q.Level = index.SeriesLevel
	case "IMAGE":
		q.Level = index.InstanceLevel
	default:
		return dimse.StatusDataSetMismatch, fmt.Errorf("query level %q: the node answers STUDY, SERIES and IMAGE", req.Level)
	}
	var keys []*dicom.Element
	for _, e := range req.Identifier.Elements() {
		if e.Tag == tags.QueryRetrieveLevel || e.Tag == dicom.SpecificCharacterSetTag || e.IsSequence() {
			continue
		}
		keys = append(keys, e)
		if !index.Matchable(e.Tag, q.Level) {
			continue // a return key only
		}
		if v := req.Identifier.Text(e.Tag); v != "" {
			q.Match[e.Tag] = v
		}
	}
	matches, err := p.archive.Index().Search(ctx, q)
	if err != nil {
		return dimse.StatusDataSetMismatch, err
	}
	for _, m := range matches {
		id := req.NewIdentifier()
		set := func(tag dicom.Tag, vr dicom.VR, v string) {
			_ = id.Set(tag, vr, dicom.PadText(vr, v))
		}
		set(dicom.SpecificCharacterSetTag, dicom.CS, "ISO_IR 192")
		set(tags.QueryRetrieveLevel, dicom.CS, strings.ToUpper(req.Level))
		for _, k := range keys {
			vr := k.VR
			if vr == dicom.UN {
				vr = dicom.DictionaryVR(k.Tag)
			}
			set(k.Tag, vr, findValue(m, k.Tag))
		}
		// The unique keys of the level and above are always returned.
		set(tags.StudyInstanceUID, dicom.UI, m.Study.UID)
		if m.Series != nil {
			set(tags.SeriesInstanceUID, dicom.UI, m.Series.UID)
		}
		if m.Instance != nil {
			set(tags.SOPInstanceUID, dicom.UI, m.Instance.SOPUID)
		}
		if err := yield(id); err != nil {
			return dimse.StatusCancel, nil
		}
	}
	return dimse.StatusSuccess, nil
}

// findValue is the value of a return key from a match ("" when the index does not keep it).
func findValue(m index.Match, t dicom.Tag) string {
	st := m.Study
	switch t {
	case tags.StudyInstanceUID:
		return st.UID
	case tags.StudyDate:
		return st.Date
	case tags.StudyTime:
		return st.Time
	case tags.AccessionNumber:
		return st.Accession
	case tags.StudyID:
		return st.ID
	case tags.StudyDescription:
		return st.Description
	case tags.ReferringPhysicianName:
		return st.Referring
	case tags.ModalitiesInStudy:
		return st.Modalities
	case tags.PatientName:
		return st.PatientName
	case tags.PatientID:
		return st.PatientID
	case tags.PatientBirthDate:
		return st.BirthDate
	case tags.PatientSex:
		return st.Sex
	case tags.NumberOfStudyRelatedSeries:
		return strconv.Itoa(st.NumSeries)
	case tags.NumberOfStudyRelatedInstances:
		return strconv.Itoa(st.NumInstances)
	}
	if se := m.Series; se != nil {
		switch t {
		case tags.SeriesInstanceUID:
			return se.UID
		case tags.Modality:
			return se.Modality
		case tags.SeriesDescription:
			return se.Description
		case tags.BodyPartExamined:
			return se.BodyPart
		case tags.SeriesNumber:
			if se.Number != nil {
				return strconv.Itoa(*se.Number)
			}
		case tags.NumberOfSeriesRelatedInstances:
			return strconv.Itoa(se.NumInstances)
		}
	}
	if in := m.Instance; in != nil {
		switch t {
		case tags.SOPInstanceUID:
			return in.SOPUID
		case tags.SOPClassUID:
			return in.SOPClassUID
		case tags.InstanceNumber:
			if in.InstanceNumber != nil {
				return strconv.Itoa(*in.InstanceNumber)
			}
		case tags.NumberOfFrames:
			return strconv.Itoa(in.Frames)
		}
	}
	return ""
}
