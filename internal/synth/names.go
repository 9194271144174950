package synth

// country holds what a node's country gives the generated data: person names (with
// the country's own letters), hospitals, streets and the shapes of identifiers and
// telephone numbers. Every name, street and hospital here is made up.
type country struct {
	name       string
	maleGiven  []string
	femaleGiv  []string
	family     []string
	twoFamily  bool // Spanish names carry two family names
	hospitals  []hospital
	streets    []string
	postcodes  []string // "postcode city" of the hospital's town
	phone      string   // pattern: each # is a random digit
	mrnPrefix  string
	nationalID string // issuer of the national identifier, "" for none
}

// hospital is an imaging department of a made-up hospital.
type hospital struct {
	name, department, address string
	aePrefix                  string
}

// countries by node name; unknown nodes get neutral.
var countries = map[string]*country{
	"oslo":      &norway,
	"valencia":  &spain,
	"linkoping": &sweden,
}

var norway = country{
	name:      "Norway",
	maleGiven: []string{"Bjørn", "Håkon", "Ørjan", "Lars", "Ole", "Jørgen", "Espen", "Sindre", "Tor", "Åge", "Kåre", "Per", "Øystein", "Arne", "Terje", "Stian"},
	femaleGiv: []string{"Åsa", "Ingrid", "Solveig", "Kari", "Bodil", "Marit", "Ragnhild", "Sigrid", "Tone", "Liv", "Grete", "Hanne", "Mette", "Randi", "Åshild", "Gøril"},
	family:    []string{"Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen", "Jensen", "Karlsen", "Berg", "Haugen", "Hagen", "Dahl", "Bråten", "Sæther", "Løken", "Strøm", "Ødegård", "Aas", "Bjørklund", "Fjærli", "Nærø", "Søreide", "Østby"},
	hospitals: []hospital{
		{"Nordre Fjellhaug universitetssykehus", "Radiologisk avdeling", "Fjellhaugveien 12, 0372 Oslo, Norge", "NFUS"},
		{"Sykehuset Østre Bjørnstad", "Avdeling for bildediagnostikk", "Bjørnstadgata 3, 0655 Oslo, Norge", "SOB"},
	},
	streets:    []string{"Storgata", "Bjørnveien", "Sørkedalsveien", "Trondheimsveien", "Kirkeveien", "Ålesundgata", "Grønlandsleiret", "Møllergata", "Løvenskiolds gate", "Frognerveien"},
	postcodes:  []string{"0155 Oslo", "0774 Oslo", "0352 Oslo", "0560 Oslo", "1366 Lysaker", "1410 Kolbotn"},
	phone:      "+47 9## ## ###",
	mrnPrefix:  "",
	nationalID: "NO-FNR",
}

var spain = country{
	name:      "Spain",
	maleGiven: []string{"José", "Jesús", "Ángel", "Andrés", "Iñaki", "Joaquín", "Sebastián", "Rubén", "Martín", "Adrián", "Víctor", "Tomás", "Manuel", "Vicente", "Josep", "Joan"},
	femaleGiv: []string{"María", "Inés", "Lucía", "Begoña", "Mónica", "Raquel", "Sofía", "Pilar", "Amparo", "Leonor", "Concepción", "Verónica", "Nuria", "Mercè", "Desamparados", "Àngels"},
	family:    []string{"García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Núñez", "Muñoz", "Ibáñez", "Jiménez", "Fernández", "González", "Rodríguez", "Hernández", "Díaz", "Álvarez", "Peña", "Castaño", "Ortuño", "Ferrer", "Puig", "Bañuls", "Llorens", "Martí", "Soler"},
	twoFamily: true,
	hospitals: []hospital{
		{"Hospital Universitario La Alquería", "Servicio de Radiodiagnóstico", "Avinguda de l'Alqueria 21, 46026 València, España", "HULA"},
		{"Hospital General de Benimàmet", "Servicio de Medicina Nuclear", "Carrer de la Séquia 7, 46035 València, España", "HGBE"},
	},
	streets:    []string{"Calle de Colón", "Avinguda del Port", "Carrer de Sueca", "Calle de la Paz", "Avenida de Aragón", "Carrer de Cádiz", "Calle de Ruzafa", "Gran Vía Marqués del Túria", "Carrer de l'Almirall", "Plaça de la Reina"},
	postcodes:  []string{"46004 València", "46023 València", "46006 València", "46010 València", "46100 Burjassot", "46900 Torrent"},
	phone:      "+34 6## ### ###",
	mrnPrefix:  "NHC",
	nationalID: "ES-SIP",
}

var sweden = country{
	name:      "Sweden",
	maleGiven: []string{"Åke", "Björn", "Göran", "Örjan", "Lennart", "Nils", "Sven", "Mats", "Håkan", "Pär", "Jörgen", "Sören", "Anders", "Erik", "Bengt", "Ulf"},
	femaleGiv: []string{"Åsa", "Märta", "Karin", "Ingrid", "Birgitta", "Gunnel", "Maj-Britt", "Ylva", "Görel", "Linnéa", "Elin", "Sofia", "Ebba", "Annika", "Britt-Marie", "Lena"},
	family:    []string{"Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson", "Gustafsson", "Pettersson", "Jönsson", "Lindström", "Åberg", "Sjögren", "Öberg", "Ström", "Bäckström", "Lundgren", "Höglund", "Ekström", "Söderberg"},
	hospitals: []hospital{
		{"Östergötlands Universitetssjukhus Ekbacka", "Röntgenkliniken", "Ekbackavägen 40, 582 25 Linköping, Sverige", "OUSE"},
		{"Länssjukhuset Ågården", "Klinisk fysiologi och nuklearmedicin", "Ågårdsgatan 5, 582 22 Linköping, Sverige", "LSA"},
	},
	streets:    []string{"Storgatan", "Ågatan", "Drottninggatan", "Hamngatan", "Kungsgatan", "Målargatan", "Östra Vallgatan", "Söderleden", "Järnvägsgatan", "Nygatan"},
	postcodes:  []string{"582 23 Linköping", "582 22 Linköping", "582 25 Linköping", "583 30 Linköping", "590 70 Ljungsbro", "585 97 Linköping"},
	phone:      "+46 70-### ## ##",
	mrnPrefix:  "",
	nationalID: "SE-PNR",
}

var neutral = country{
	name:      "",
	maleGiven: []string{"Alex", "Sam", "Luca", "Jonas", "Milan", "Noah", "René", "José", "Jürgen", "Tomáš", "Emil", "Oskar"},
	femaleGiv: []string{"Mia", "Elena", "Zoë", "Renée", "Chloé", "Noa", "Ana", "Lea", "Maëlle", "Zofia", "Iris", "Jana"},
	family:    []string{"Novak", "Weber", "Dubois", "Rossi", "Kowalski", "Horvat", "Meyer", "Novák", "Müller", "Lefèvre", "Brandão", "Çelik", "Dvořák", "Nieminen", "Ó Briain"},
	hospitals: []hospital{
		{"Example Cancer Centre", "Department of Radiology", "1 Hospital Road, Example City", "ECC"},
		{"Synthetic General Hospital", "Nuclear Medicine", "22 Clinic Street, Example City", "SGH"},
	},
	streets:   []string{"Main Street", "Station Road", "Park Avenue", "Church Lane", "Mill Road", "Rue de la Gare"},
	postcodes: []string{"1000 Example City", "1010 Example City", "1200 Example Town"},
	phone:     "+00 ### ### ###",
	mrnPrefix: "P",
}

// countryFor returns the country of a node by its name, or the neutral set.
func countryFor(node string) *country {
	if c, ok := countries[node]; ok {
		return c
	}
	return &neutral
}

// Equipment park: the scanners of the hospitals, by modality. Each hospital gets some
// of them. Models are real product names; serial numbers are made up per hospital.
type scanner struct {
	modality     string // CT, MR or PT (a PET/CT has both, see petct)
	manufacturer string
	model        string
	software     string
	fieldT       float64 // MR field strength in tesla
	kernels      [2]string
	// CT kernels: [soft tissue, lung]
}

var ctScanners = []scanner{
	{modality: "CT", manufacturer: "SIEMENS", model: "SOMATOM Force", software: "syngo CT VB20A", kernels: [2]string{"Br40d", "Bl57d"}},
	{modality: "CT", manufacturer: "SIEMENS", model: "SOMATOM Definition AS+", software: "syngo CT VA48A", kernels: [2]string{"I30f", "I70f"}},
	{modality: "CT", manufacturer: "GE MEDICAL SYSTEMS", model: "Revolution CT", software: "rev_ct.4", kernels: [2]string{"STANDARD", "LUNG"}},
	{modality: "CT", manufacturer: "Philips", model: "IQon - Spectral CT", software: "4.7.2", kernels: [2]string{"B", "L"}},
	{modality: "CT", manufacturer: "TOSHIBA", model: "Aquilion ONE", software: "V6.0SP2", kernels: [2]string{"FC08", "FC52"}},
}

var mrScanners = []scanner{
	{modality: "MR", manufacturer: "SIEMENS", model: "MAGNETOM Skyra", software: "syngo MR E11", fieldT: 3},
	{modality: "MR", manufacturer: "SIEMENS", model: "MAGNETOM Aera", software: "syngo MR E11", fieldT: 1.5},
	{modality: "MR", manufacturer: "GE MEDICAL SYSTEMS", model: "Discovery MR750", software: "DV26.0_R03", fieldT: 3},
	{modality: "MR", manufacturer: "Philips", model: "Ingenia", software: "5.6.1", fieldT: 1.5},
}

var petScanners = []scanner{
	{modality: "PT", manufacturer: "SIEMENS", model: "Biograph Vision 600", software: "VG80B", kernels: [2]string{"Br38f", "Bl57f"}},
	{modality: "PT", manufacturer: "GE MEDICAL SYSTEMS", model: "Discovery MI", software: "pet_coreload.46", kernels: [2]string{"STANDARD", "LUNG"}},
	{modality: "PT", manufacturer: "Philips", model: "Vereos PET/CT", software: "3.0.2", kernels: [2]string{"B", "L"}},
}
