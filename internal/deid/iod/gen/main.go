// Command gen writes iod_gen.go for package iod: for each Storage SOP Class,
// the top-level attributes of its IOD with their Type.
//
// It reads three sources:
//
//   - GDCM's Part3.xml (DICOM PS3.3, 2008 edition, as XML; BSD licence):
//     the IODs with their modules, and the module and macro tables with the
//     attributes' Types;
//   - the innolitics dicom-standard sops.json (SOP Class UID → IOD name) and
//     ciods.json (IOD name → id), current edition, MIT licence;
//   - the innolitics ciod_to_modules.json (IOD id → module ids, current
//     edition).
//
// An IOD's modules are the union of those ciod_to_modules.json lists (module
// ids matched to Part3.xml module names) and, when the IOD's name matches one
// of Part3.xml (case-insensitively, after the aliases below), the modules
// Part3.xml lists for it. Attribute Types come from Part3.xml only; modules
// that are newer than 2008 are therefore missing, and are logged and listed
// in the generated file.
//
// Usage:
//
//	go run ./gen -part3 /usr/share/gdcm-3.0/XML/Part3.xml -standard path/to/dicom-standard -out iod_gen.go
package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// iodAliases maps current IOD names (sops.json) to the names Part3.xml of
// 2008 gives the same IODs, where they differ by more than case and
// punctuation.
var iodAliases = map[string]string{
	"Computed Radiography Image":                         "CR Image",
	"Nuclear Medicine Image":                             "NM Image",
	"Positron Emission Tomography Image":                 "PET Image",
	"Secondary Capture Image":                            "SC Image",
	"Multi-frame Single Bit Secondary Capture Image":     "Multi Frame Single Bit SC Image",
	"Multi-frame Grayscale Byte Secondary Capture Image": "Multi Frame Grayscale Byte SC Image",
	"Multi-frame Grayscale Word Secondary Capture Image": "Multi Frame Grayscale Word SC Image",
	"Multi-frame True Color Secondary Capture Image":     "Multi Frame True Color SC Image",
	"Ultrasound Image":                                   "US Image",
	"Ultrasound Multi-frame Image":                       "US Multi Frame Image",
	"X-Ray Radiofluoroscopic Image":                      "XRF Image",
	"Enhanced XA Image":                                  "Enhanced X Ray Angiographic Image",
	"Enhanced XRF Image":                                 "Enhanced X Ray RF Image",
	"Basic Voice Audio Waveform":                         "Basic Voice Audio",
	"Hemodynamic Waveform":                               "Hemodynamic",
	"Basic Cardiac Electrophysiology Waveform":           "Basic Cardiac EP",
}

// moduleAliases maps current module ids (ciod_to_modules.json) to the
// Part3.xml module of 2008 that holds the same attributes under another name.
var moduleAliases = map[string]string{
	"specimen":                                "specimen-identification",
	"palette-color-lookup-table":              "palette-color-lookup",
	"supplemental-palette-color-lookup-table": "supplemental-palette-color-table-lookup",
}

// Types from strictest to loosest; the generated table stores the index.
var typeNames = []string{"1", "1C", "2", "2C", "3"}

type xEntry struct {
	Group   string `xml:"group,attr"`
	Element string `xml:"element,attr"`
	Name    string `xml:"name,attr"`
	Type    string `xml:"type,attr"`
	Ref     string `xml:"ref,attr"`
	Usage   string `xml:"usage,attr"`
}

type xInclude struct {
	Ref string `xml:"ref,attr"`
}

type xTable struct {
	XMLName  xml.Name
	Table    string     `xml:"table,attr"`
	Name     string     `xml:"name,attr"`
	Ref      string     `xml:"ref,attr"`
	Entries  []xEntry   `xml:"entry"`
	Includes []xInclude `xml:"include"`
}

type xTables struct {
	Edition string   `xml:"edition,attr"`
	Items   []xTable `xml:",any"`
}

type stats struct {
	unresolvedIncludes map[string]bool
	untyped            int
}

func main() {
	part3 := flag.String("part3", "/usr/share/gdcm-3.0/XML/Part3.xml", "GDCM Part3.xml")
	std := flag.String("standard", "", "innolitics dicom-standard folder (sops.json, ciods.json, ciod_to_modules.json)")
	out := flag.String("out", "iod_gen.go", "output Go file")
	flag.Parse()
	if *std == "" {
		log.Fatal("gen: -standard is required")
	}

	raw, err := os.ReadFile(*part3)
	if err != nil {
		log.Fatal(err)
	}
	var p3 xTables
	if err := xml.Unmarshal(raw, &p3); err != nil {
		log.Fatalf("gen: %s: %v", *part3, err)
	}
	var sops []struct{ Name, ID, Ciod string }
	var ciods []struct{ Name, ID string }
	var c2m []struct{ CiodID, ModuleID string }
	readJSON(filepath.Join(*std, "sops.json"), &sops)
	readJSON(filepath.Join(*std, "ciods.json"), &ciods)
	readJSON(filepath.Join(*std, "ciod_to_modules.json"), &c2m)

	// Index Part3.xml.
	byTable := map[string]*xTable{}
	moduleBySlug := map[string]*xTable{}
	moduleByRef := map[string]*xTable{}
	iodByName := map[string]*xTable{}
	for i := range p3.Items {
		t := &p3.Items[i]
		switch t.XMLName.Local {
		case "module", "macro":
			if t.Table != "" {
				byTable[strings.ToLower(t.Table)] = t
			}
			if t.XMLName.Local == "module" {
				moduleBySlug[slug(t.Name)] = t
				if t.Ref != "" {
					moduleByRef[t.Ref] = t
				}
			}
		case "iod":
			iodByName[normIOD(t.Name)] = t
		}
	}
	st := &stats{unresolvedIncludes: map[string]bool{}}

	ciodID := map[string]string{}
	for _, c := range ciods {
		ciodID[c.Name] = c.ID
	}
	modulesOf := map[string][]string{}
	for _, m := range c2m {
		modulesOf[m.CiodID] = append(modulesOf[m.CiodID], m.ModuleID)
	}

	type iodInfo struct {
		name      string
		modules   map[string]bool // Part3.xml module slugs
		missing   []string        // current module ids not in Part3.xml
		part3     string          // matching Part3.xml IOD name, if any
		sopsCount int
	}
	iods := map[string]*iodInfo{}
	sopIOD := map[string]string{}
	for _, s := range sops {
		if s.ID == "" || s.Ciod == "" {
			log.Fatalf("gen: sops.json: incomplete entry %+v", s)
		}
		sopIOD[s.ID] = s.Ciod
		if iods[s.Ciod] != nil {
			iods[s.Ciod].sopsCount++
			continue
		}
		info := &iodInfo{name: s.Ciod, modules: map[string]bool{}, sopsCount: 1}
		iods[s.Ciod] = info
		id, ok := ciodID[s.Ciod]
		if !ok {
			log.Printf("gen: IOD %q of sops.json not in ciods.json", s.Ciod)
		}
		for _, mid := range modulesOf[id] {
			if m := findModule(mid, moduleBySlug); m != nil {
				info.modules[slug(m.Name)] = true
			} else {
				info.missing = append(info.missing, mid)
			}
		}
		name := s.Ciod
		if a, ok := iodAliases[name]; ok {
			name = a
		}
		if t := iodByName[normIOD(name)]; t != nil {
			info.part3 = t.Name
			for _, e := range t.Entries {
				m := moduleByRef[e.Ref]
				if m == nil {
					m = moduleBySlug[slug(e.Name)]
				}
				if m == nil {
					log.Printf("gen: Part3.xml IOD %q: module %q (%s) not found", t.Name, e.Name, e.Ref)
					continue
				}
				info.modules[slug(m.Name)] = true
			}
		}
		sort.Strings(info.missing)
	}

	// Attributes of every module used.
	usedSlugs := map[string]bool{}
	for _, info := range iods {
		for s := range info.modules {
			usedSlugs[s] = true
		}
	}
	slugs := sortedKeys(usedSlugs)
	type module struct {
		names []string
		attrs []uint64 // tag<<4 | type index
	}
	var mods []*module
	modIndex := map[string]int{}
	byContent := map[string]int{}
	for _, s := range slugs {
		attrs := moduleAttrs(moduleBySlug[s], byTable, st, map[*xTable]bool{})
		var list []uint64
		for tag, ti := range attrs {
			list = append(list, uint64(tag)<<4|uint64(ti))
		}
		sort.Slice(list, func(i, j int) bool { return list[i] < list[j] })
		key := fmt.Sprint(list)
		if i, ok := byContent[key]; ok {
			mods[i].names = append(mods[i].names, s)
			modIndex[s] = i
			continue
		}
		byContent[key] = len(mods)
		modIndex[s] = len(mods)
		mods = append(mods, &module{names: []string{s}, attrs: list})
	}

	// IODs and SOP classes.
	iodNames := sortedKeys(iods)
	var unmatched, partial, empty []string
	iodIndex := map[string]int{}
	var iodLines []string
	for _, n := range iodNames {
		info := iods[n]
		if info.part3 == "" {
			unmatched = append(unmatched, n)
		}
		if len(info.missing) > 0 {
			partial = append(partial, fmt.Sprintf("%s: %s", n, strings.Join(info.missing, ", ")))
		}
		if len(info.modules) == 0 {
			empty = append(empty, n)
			continue
		}
		idx := map[int]bool{}
		for s := range info.modules {
			idx[modIndex[s]] = true
		}
		var ms []string
		for _, i := range sortedKeysInt(idx) {
			ms = append(ms, strconv.Itoa(i))
		}
		iodIndex[n] = len(iodLines)
		iodLines = append(iodLines, fmt.Sprintf("{name: %q, complete: %t, modules: []uint16{%s}},", n, len(info.missing) == 0, strings.Join(ms, ", ")))
	}
	uids := sortedKeys(sopIOD)
	var sopLines []string
	for _, u := range uids {
		i, ok := iodIndex[sopIOD[u]]
		if !ok {
			continue
		}
		sopLines = append(sopLines, fmt.Sprintf("{%q, %d},", u, i))
	}
	for _, n := range unmatched {
		log.Printf("gen: IOD %q: no Part3.xml IOD of that name; modules from ciod_to_modules.json only", n)
	}
	for _, p := range partial {
		log.Printf("gen: modules not in Part3.xml: %s", p)
	}
	for _, n := range empty {
		log.Printf("gen: IOD %q: no module found; its SOP classes are left out", n)
	}
	for _, inc := range sortedKeys(st.unresolvedIncludes) {
		log.Printf("gen: unresolved include %q", inc)
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by internal/deid/iod/gen from Part3.xml and dicom-standard/sops.json, ciods.json, ciod_to_modules.json; DO NOT EDIT.\n\n")
	fmt.Fprintf(&b, "// Sources:\n")
	fmt.Fprintf(&b, "//   - GDCM Part3.xml (DICOM PS3.3 edition %s as XML; GDCM, BSD licence, Copyright (c) 2006-2011 Mathieu Malaterre):\n", p3.Edition)
	fmt.Fprintf(&b, "//     IOD module lists and module/macro attribute Types;\n")
	fmt.Fprintf(&b, "//   - https://github.com/innolitics/dicom-standard standard/sops.json, ciods.json,\n")
	fmt.Fprintf(&b, "//     ciod_to_modules.json (current edition; MIT License, Copyright (c) 2017 Innolitics, LLC):\n")
	fmt.Fprintf(&b, "//     SOP Class UID → IOD → modules.\n")
	fmt.Fprintf(&b, "//\n// %d SOP classes of %d IODs; %d IODs with modules, %d module tables (%d after dedupe).\n", len(sopLines), len(iods), len(iodLines), len(slugs), len(mods))
	fmt.Fprintf(&b, "//\n// %d IODs have no IOD of the same name in Part3.xml (modules from ciod_to_modules.json only):\n", len(unmatched))
	writeList(&b, unmatched)
	fmt.Fprintf(&b, "//\n// %d IODs have no module in Part3.xml (their SOP classes are not in the table):\n", len(empty))
	writeList(&b, empty)
	fmt.Fprintf(&b, "//\n// %d IODs use modules newer than Part3.xml (their attributes are missing; complete is false):\n", len(partial))
	writeList(&b, partial)
	fmt.Fprintf(&b, "\npackage iod\n\n")
	fmt.Fprintf(&b, "// part3Edition is the DICOM edition of Part3.xml.\nconst part3Edition = %q\n\n", p3.Edition)
	fmt.Fprintf(&b, "// modules holds each module's top-level attributes, sorted, each as\n")
	fmt.Fprintf(&b, "// tag<<4 | i, where typeNames[i] is the attribute's Type in the module.\n")
	fmt.Fprintf(&b, "var modules = [...][]uint64{\n")
	for i, m := range mods {
		fmt.Fprintf(&b, "\t// %d: %s\n\t{", i, strings.Join(m.names, ", "))
		for j, a := range m.attrs {
			if j%8 == 0 {
				b.WriteString("\n\t\t")
			}
			fmt.Fprintf(&b, "0x%09X, ", a)
		}
		b.WriteString("\n\t},\n")
	}
	fmt.Fprintf(&b, "}\n\n")
	fmt.Fprintf(&b, "// iods holds each IOD's name, whether all its modules were found, and its\n// modules (indexes into modules).\n")
	fmt.Fprintf(&b, "var iods = [...]iodDef{\n")
	for _, l := range iodLines {
		fmt.Fprintf(&b, "\t%s\n", l)
	}
	fmt.Fprintf(&b, "}\n\n")
	fmt.Fprintf(&b, "// sopClasses maps SOP Class UIDs, sorted, to indexes into iods.\n")
	fmt.Fprintf(&b, "var sopClasses = [...]sopClass{\n")
	for _, l := range sopLines {
		fmt.Fprintf(&b, "\t%s\n", l)
	}
	fmt.Fprintf(&b, "}\n")

	src, err := format.Source(b.Bytes())
	if err != nil {
		os.WriteFile(*out+".broken", b.Bytes(), 0o644)
		log.Fatalf("gen: format: %v", err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("gen: %d SOP classes, %d IODs (%d unmatched in Part3.xml, %d without modules, %d partial), %d modules -> %s",
		len(sopLines), len(iods), len(unmatched), len(empty), len(partial), len(mods), *out)
	if st.untyped > 0 {
		log.Printf("gen: %d top-level entries without a Type skipped", st.untyped)
	}
}

func writeList(b *bytes.Buffer, items []string) {
	if len(items) == 0 {
		b.WriteString("//   (none)\n")
	}
	for _, it := range items {
		fmt.Fprintf(b, "//   - %s\n", it)
	}
}

func readJSON(path string, v any) {
	raw, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		log.Fatalf("gen: %s: %v", path, err)
	}
}

func findModule(id string, bySlug map[string]*xTable) *xTable {
	id = strings.Trim(multiDash.ReplaceAllString(id, "-"), "-")
	if a, ok := moduleAliases[id]; ok {
		id = a
	}
	if m := bySlug[id]; m != nil {
		return m
	}
	// Each multi-frame IOD's functional groups module is the generic one
	// of 2008, specialised.
	if strings.HasSuffix(id, "-multi-frame-functional-groups") {
		return bySlug["multi-frame-functional-groups"]
	}
	return nil
}

var (
	nonAlnum  = regexp.MustCompile(`[^a-z0-9]+`)
	multiDash = regexp.MustCompile(`-+`)
)

// tableAliases maps table numbers Part3.xml gets wrong in includes to the
// tables meant.
var tableAliases = map[string]string{
	"10.x-4": "10-8", // Primary Anatomic Structure Macro
}

// slug turns a Part3.xml module name ("Contrast/bolus Module Attributes")
// into an innolitics module id ("contrast-bolus").
func slug(name string) string {
	s := strings.ToLower(name)
	s = strings.TrimSuffix(strings.TrimSpace(s), "attributes")
	s = strings.TrimSuffix(strings.TrimSpace(s), "module")
	return strings.Trim(nonAlnum.ReplaceAllString(s, "-"), "-")
}

// normIOD normalizes an IOD name for matching: case, punctuation, "X-Ray"
// against "X Ray", and Part3.xml's " IOD Modules" suffix.
func normIOD(name string) string {
	s := strings.ToLower(name)
	s = strings.TrimSuffix(strings.TrimSpace(s), "modules")
	s = strings.TrimSuffix(strings.TrimSpace(s), "iod")
	return strings.Join(strings.Fields(nonAlnum.ReplaceAllString(s, " ")), " ")
}

var tableRef = regexp.MustCompile(`(?i)Table\s*\(?\s*([A-Z]?\.?[0-9][0-9A-Za-z.\-]*)`)

// resolveInclude finds the macro or module table an include names.
func resolveInclude(ref string, byTable map[string]*xTable) *xTable {
	m := tableRef.FindStringSubmatch(ref)
	if m == nil {
		return nil
	}
	id := strings.ToLower(strings.TrimRight(m[1], ".)"))
	if a, ok := tableAliases[id]; ok {
		id = a
	}
	if t := byTable[id]; t != nil {
		return t
	}
	// "Table C.8.82" for "Table C.8-82".
	if i := strings.LastIndex(id, "."); i > 0 {
		if t := byTable[id[:i]+"-"+id[i+1:]]; t != nil {
			return t
		}
	}
	return nil
}

// moduleAttrs returns the top-level attributes of a module or macro table,
// with those of the tables it includes at top level, each with the index of
// its strictest Type.
func moduleAttrs(t *xTable, byTable map[string]*xTable, st *stats, visiting map[*xTable]bool) map[uint32]int {
	out := map[uint32]int{}
	if visiting[t] {
		return out
	}
	visiting[t] = true
	defer delete(visiting, t)
	for _, e := range t.Entries {
		if strings.HasPrefix(strings.TrimSpace(e.Name), ">") {
			continue
		}
		tag, ok := parseTag(e.Group, e.Element)
		if !ok {
			log.Printf("gen: %s: odd tag (%s,%s) of %q", t.Name, e.Group, e.Element, e.Name)
			continue
		}
		ti := typeIndex(e.Type)
		if ti < 0 {
			st.untyped++
			continue
		}
		merge(out, tag, ti)
	}
	for _, inc := range t.Includes {
		if strings.HasPrefix(strings.TrimSpace(inc.Ref), ">") {
			continue
		}
		m := resolveInclude(inc.Ref, byTable)
		if m == nil {
			st.unresolvedIncludes[t.Name+": "+inc.Ref] = true
			continue
		}
		for tag, ti := range moduleAttrs(m, byTable, st, visiting) {
			merge(out, tag, ti)
		}
	}
	return out
}

func merge(m map[uint32]int, tag uint32, ti int) {
	if old, ok := m[tag]; !ok || ti < old {
		m[tag] = ti
	}
}

func typeIndex(t string) int {
	for i, n := range typeNames {
		if strings.EqualFold(strings.TrimSpace(t), n) {
			return i
		}
	}
	return -1
}

// parseTag reads a Part3.xml group and element; repeating groups (50xx,
// 60xx) become their first group, 5000 or 6000.
func parseTag(group, element string) (uint32, bool) {
	group = strings.NewReplacer("x", "0", "X", "0").Replace(group)
	g, err1 := strconv.ParseUint(group, 16, 16)
	e, err2 := strconv.ParseUint(element, 16, 16)
	if err1 != nil || err2 != nil || len(group) != 4 || len(element) != 4 {
		return 0, false
	}
	return uint32(g)<<16 | uint32(e), true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeysInt(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
