package dicomweb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/node/index"
	"github.com/cancerimage/cie/internal/pixel"
)

// ThumbnailSize is the largest side of a thumbnail.
const ThumbnailSize = 128

// maxFrameList bounds the frames one request may name.
const maxFrameList = 4096

// registerPixels adds the frame, rendered and thumbnail routes.
func (s *Service) registerPixels(route func(string, Op, http.HandlerFunc)) {
	p := s.prefix
	inst := "GET " + p + "/studies/{study}/series/{series}/instances/{instance}"
	route(inst+"/frames/{frames}", OpFrames, s.frames)
	route(inst+"/rendered", OpRendered, s.rendered)
	route(inst+"/frames/{frames}/rendered", OpRendered, s.rendered)
	route(inst+"/thumbnail", OpThumbnail, s.thumbnail)
	route(inst+"/frames/{frames}/thumbnail", OpThumbnail, s.thumbnail)
	route("GET "+p+"/studies/{study}/series/{series}/thumbnail", OpThumbnail, s.thumbnail)
	route("GET "+p+"/studies/{study}/thumbnail", OpThumbnail, s.thumbnail)
}

// openFrames reads the stored instance and locates its frames.
func (s *Service) openFrames(r *http.Request, in index.Instance) (*pixel.Frames, error) {
	rc, err := s.archive.Open(r.Context(), in)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("reading instance %s: %w", in.SOPUID, err)
	}
	f, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{})
	if err != nil {
		return nil, fmt.Errorf("stored instance %s: %w", in.SOPUID, err)
	}
	return pixel.Open(f)
}

// pixelFail maps pixel errors to DICOMweb statuses.
func (s *Service) pixelFail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, pixel.ErrUnsupported):
		httpx.Error(w, http.StatusNotAcceptable, "%v", err)
	case errors.Is(err, pixel.ErrFrameRange), errors.Is(err, pixel.ErrNoPixelData):
		httpx.Error(w, http.StatusNotFound, "%v", err)
	case errors.Is(err, pixel.ErrMalformed):
		httpx.Error(w, http.StatusUnprocessableEntity, "%v", err)
	default:
		s.fail(w, err)
	}
}

// frameNumbers reads a frame list "1,3,5" (1-based).
func frameNumbers(s string, count int) ([]int, error) {
	parts := strings.Split(s, ",")
	if len(parts) > maxFrameList {
		return nil, fmt.Errorf("more than %d frames asked for", maxFrameList)
	}
	var out []int
	for _, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("frame %q is not a number from 1", p)
		}
		if n > count {
			return nil, fmt.Errorf("%w: frame %d of %d", pixel.ErrFrameRange, n, count)
		}
		out = append(out, n)
	}
	return out, nil
}

// frameMediaType is the media type a frame goes out in, as stored (PS3.18 8.7.3.5).
func frameMediaType(ts string) string {
	switch ts {
	case "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70":
		return "image/jpeg"
	case "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81":
		return "image/jls"
	case "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91":
		return "image/jp2"
	case "1.2.840.10008.1.2.5":
		return "image/dicom-rle"
	}
	return "application/octet-stream"
}

// legacyFrameTypes maps the media types of compressed frames that PS3.18 named before
// DICOM 2021a (and clients such as dicomweb-client still ask for) to the current ones.
var legacyFrameTypes = map[string]string{"image/x-dicom-rle": "image/dicom-rle", "image/x-jls": "image/jls"}

// frames answers WADO-RS frames: the frames as stored, one part each. Native frames go
// as application/octet-stream in explicit VR little endian; compressed ones in their own
// media type, or as application/octet-stream when the client accepts any transfer syntax.
func (s *Service) frames(w http.ResponseWriter, r *http.Request) {
	list, err := s.instances(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	in := list[0]
	fr, err := s.openFrames(r, in)
	if err != nil {
		s.pixelFail(w, err)
		return
	}
	nums, err := frameNumbers(r.PathValue("frames"), fr.Count())
	if err != nil {
		if errors.Is(err, pixel.ErrFrameRange) {
			httpx.Error(w, http.StatusNotFound, "instance %s: %v", in.SOPUID, err)
		} else {
			httpx.Error(w, http.StatusBadRequest, "%v", err)
		}
		return
	}
	ts := fr.Info().TS.UID
	if ts == dicom.ExplicitVRBigEndianUID && fr.Info().BitsAllocated > 8 {
		httpx.Error(w, http.StatusNotAcceptable, "instance %s is stored big endian; the node sends frames as stored and does not swap them", in.SOPUID)
		return
	}
	native := !dicom.TransferSyntaxFor(ts).Encapsulated
	partType := frameMediaType(ts)
	wantType, wantTS, ok := acceptedFrameType(r)
	if !ok {
		httpx.Error(w, http.StatusNotAcceptable, "frames are sent as multipart/related; Accept: %s", r.Header.Get("Accept"))
		return
	}
	if cur, ok := legacyFrameTypes[wantType]; ok && cur == partType {
		// The client's (older) name of the stored type: the parts go out in it.
		partType = wantType
	}
	switch {
	case native:
		ts = dicom.ExplicitVRLittleEndianUID
		if wantType != "" && wantType != "application/octet-stream" {
			httpx.Error(w, http.StatusNotAcceptable, "instance %s is not compressed; its frames are application/octet-stream, not %s", in.SOPUID, wantType)
			return
		}
	case wantType == "application/octet-stream" && (wantTS == "*" || wantTS == ts):
		partType = "application/octet-stream"
	case wantType != "" && wantType != partType:
		httpx.Error(w, http.StatusNotAcceptable, "instance %s is stored as %s (%s); the node does not transcode to %s", in.SOPUID, pixel.TransferSyntaxName(ts), partType, wantType)
		return
	}
	if wantTS != "*" && wantTS != "" && wantTS != ts {
		httpx.Error(w, http.StatusNotAcceptable, "instance %s frames are in transfer syntax %s; the node does not transcode to %s", in.SOPUID, ts, wantTS)
		return
	}
	mw := multipart.NewWriter(w)
	w.Header().Set("Content-Type", `multipart/related; type="`+partType+`"; boundary=`+mw.Boundary())
	w.WriteHeader(http.StatusOK)
	for _, n := range nums {
		rd, size, err := fr.Reader(n - 1)
		if err != nil {
			s.log.Error("frames", "sop", in.SOPUID, "frame", n, "err", err)
			return
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", partType+"; transfer-syntax="+ts)
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		h.Set("Content-Location", s.baseURL(r)+"/studies/"+in.StudyUID+"/series/"+in.SeriesUID+"/instances/"+in.SOPUID+"/frames/"+strconv.Itoa(n))
		part, err := mw.CreatePart(h)
		if err != nil {
			return
		}
		if _, err := io.Copy(part, rd); err != nil {
			return
		}
	}
	_ = mw.Close()
}

// acceptedFrameType reads a frames Accept header: the part type asked for ("" for any)
// and the transfer syntax ("*" for any).
func acceptedFrameType(r *http.Request) (string, string, bool) {
	acc := r.Header.Get("Accept")
	if acc == "" {
		return "", "*", true
	}
	for _, part := range acceptList(acc) {
		mt, params := parseMediaType(part)
		switch {
		case mt == "*/*" || mt == "multipart/*":
			return "", "*", true
		case mt == "multipart/related":
			ts := params["transfer-syntax"]
			if ts == "" {
				ts = "*"
			}
			return params["type"], ts, true
		}
	}
	return "", "", false
}

// renderedFormat picks PNG or JPEG from the Accept header (JPEG when anything goes).
func renderedFormat(r *http.Request) (pixel.Format, bool) {
	acc := r.Header.Get("Accept")
	if acc == "" {
		return pixel.JPEG, true
	}
	for _, part := range acceptList(acc) {
		mt, _ := parseMediaType(part)
		if f, ok := pixel.FormatFor(mt); ok {
			return f, true
		}
		if mt == "*/*" || mt == "image/*" {
			return pixel.JPEG, true
		}
	}
	return 0, false
}

// rendered answers WADO-RS rendered for an instance or a frame: window=center,width[,function],
// viewport=w,h, quality=1..100.
func (s *Service) rendered(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, false)
}

// thumbnail answers WADO-RS thumbnail for a study, a series (their middle instance), an
// instance or a frame.
func (s *Service) thumbnail(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, true)
}

func (s *Service) render(w http.ResponseWriter, r *http.Request, thumb bool) {
	format, ok := renderedFormat(r)
	if !ok {
		httpx.Error(w, http.StatusNotAcceptable, "rendered images are image/jpeg or image/png; Accept: %s", r.Header.Get("Accept"))
		return
	}
	q := r.URL.Query()
	var opt pixel.RenderOptions
	if v := q.Get("window"); v != "" {
		f := strings.Split(v, ",")
		c, err1 := strconv.ParseFloat(strings.TrimSpace(f[0]), 64)
		var wd float64
		var err2 error = errors.New("missing")
		if len(f) > 1 {
			wd, err2 = strconv.ParseFloat(strings.TrimSpace(f[1]), 64)
		}
		if err1 != nil || err2 != nil || wd <= 0 {
			httpx.Error(w, http.StatusBadRequest, "window=%q: want center,width[,function] with width > 0", v)
			return
		}
		opt.Window = &pixel.Window{Center: c, Width: wd}
		if len(f) > 2 {
			switch fn := pixel.VOIFunction(strings.ToUpper(strings.TrimSpace(f[2]))); fn {
			case pixel.Linear, pixel.LinearExact, pixel.Sigmoid:
				opt.Function = fn
			default:
				httpx.Error(w, http.StatusBadRequest, "window function %q: want linear, linear-exact or sigmoid", f[2])
				return
			}
		}
	}
	if v := q.Get("viewport"); v != "" {
		f := strings.Split(v, ",")
		vw, err1 := strconv.Atoi(strings.TrimSpace(f[0]))
		vh := vw
		var err2 error
		if len(f) > 1 {
			vh, err2 = strconv.Atoi(strings.TrimSpace(f[1]))
		}
		if err1 != nil || err2 != nil || vw < 1 || vh < 1 || vw > pixel.MaxViewport || vh > pixel.MaxViewport {
			httpx.Error(w, http.StatusBadRequest, "viewport=%q: want width,height from 1 to %d", v, pixel.MaxViewport)
			return
		}
		opt.Width, opt.Height = vw, vh
	}
	quality := 0
	if v := q.Get("quality"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			httpx.Error(w, http.StatusBadRequest, "quality=%q: want 1 to 100", v)
			return
		}
		quality = n
	}
	list, err := s.instances(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	in := list[len(list)/2]
	if r.PathValue("instance") == "" {
		// A study or series thumbnail: the middle image of the first series with pixels.
		for _, x := range list {
			if x.Rows > 0 {
				in = x
				break
			}
		}
	}
	fr, err := s.openFrames(r, in)
	if err != nil {
		s.pixelFail(w, err)
		return
	}
	frame := 0
	if fs := r.PathValue("frames"); fs != "" {
		nums, err := frameNumbers(fs, fr.Count())
		if err != nil || len(nums) != 1 {
			httpx.Error(w, http.StatusBadRequest, "frames=%q: a rendered image is one frame", fs)
			return
		}
		frame = nums[0] - 1
	} else if fr.Count() > 1 {
		frame = fr.Count() / 2
	}
	if thumb {
		opt.Width, opt.Height = ThumbnailSize, ThumbnailSize
	}
	img, err := fr.Render(frame, opt)
	if err != nil {
		s.pixelFail(w, err)
		return
	}
	var buf bytes.Buffer
	if err := pixel.Encode(&buf, img, format, quality); err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", format.MediaType())
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}
