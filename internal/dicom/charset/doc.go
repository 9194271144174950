// Package charset decodes and encodes DICOM character string values
// according to Specific Character Set (0008,0005): PS3.5 section 6.1
// ("Support of Character Repertoires"), PS3.3 C.12.1.1.2 (the Defined
// Terms) and PS3.5 Annexes H, I, J and K (Japanese, Korean, Unicode and
// Chinese examples, including ISO 2022 code extensions).
//
// # Use
//
//	set, err := charset.Parse(values)          // values of (0008,0005)
//	name, err := set.Decode("PN", raw)         // bytes → Go string (strict)
//	text := set.DecodeLossy("LO", raw)         // never fails, U+FFFD for bad bytes
//	raw, err := set.Encode("PN", "Yamada^Tarou=山田^太郎")
//	if errors.Is(err, charset.ErrNotRepresentable) { /* rewrite as ISO_IR 192 */ }
//
// Decode and Encode work on a whole element value: all its values with the
// '\' separators. Character set state is per value and returns to the
// initial state at the delimiters, so values need not be split first —
// and must not be split on raw 0x5C bytes (in GB18030 and GBK a 0x5C byte
// can be the second byte of a character; in a two-byte G0 set it can be
// either byte). Split the decoded string instead.
//
// A nested data set (a sequence item) with its own Specific Character Set
// uses that Set; otherwise it inherits its parent's. That is the caller's
// business: this package only needs the right *Set.
//
// # Which VRs
//
// Only SH, LO, ST, LT, UC, UT and PN are encoded in the Specific Character
// Set. AE, AS, CS, DA, DS, DT, IS, TM, UI and UR use the default repertoire
// (ASCII) whatever the Set; bytes above 0x7F or ESC in them are invalid and
// non-ASCII text cannot be encoded in them. Other VRs are not text
// (ErrNotText).
//
// # Character sets
//
// Without code extensions (single-valued (0008,0005)):
//
//	(none), ISO_IR 6      ASCII (the default repertoire)
//	ISO_IR 100/101/109/110/148/203   Latin-1/2/3/4/5/9 (ISO 8859-1/2/3/4/9/15)
//	ISO_IR 126/127/138/144           Greek, Arabic, Hebrew, Cyrillic (ISO 8859-7/6/8/5)
//	ISO_IR 166            Thai (TIS 620-2533)
//	ISO_IR 13             JIS X 0201 (Romaji in G0, half-width Katakana in G1)
//	ISO_IR 192            UTF-8
//	GB18030, GBK          Chinese, decoded and encoded as a byte stream
//
// With code extensions (ISO 2022; one or more values, value 1 may be empty
// meaning ISO 2022 IR 6):
//
//	ISO 2022 IR 6                     ASCII              G0  ESC ( B
//	ISO 2022 IR 100/101/109/110/126/127/138/144/148/166/203
//	                                  ISO 8859 right half G1  ESC - A/B/C/D/F/G/H/L/M/T/b
//	ISO 2022 IR 13                    JIS X 0201          G0  ESC ( J, G1 ESC ) I
//	ISO 2022 IR 87                    JIS X 0208 Kanji    G0  ESC $ B
//	ISO 2022 IR 159                   JIS X 0212          G0  ESC $ ( D
//	ISO 2022 IR 149                   KS X 1001 Korean    G1  ESC $ ) C
//	ISO 2022 IR 58                    GB 2312 Chinese     G1  ESC $ ) A
//
// Decoding keeps a G0 and a G1 designation. Bytes 0x21–0x7E are G0 (one or
// two bytes per character), bytes 0xA0–0xFF are G1, space and the C0
// controls are themselves, bytes 0x80–0x9F (C1) are invalid. The state
// returns to that of value 1 at every control character other than ESC
// (CR, LF, FF, TAB, …) and, while G0 is a one-byte set, after '\' in SH,
// LO, UC and PN and after '^' and '=' in PN (PS3.5 6.1.2.5.3). Every escape
// sequence of the table above is accepted in a Set with code extensions,
// whether its term is declared or not (the bytes are unambiguous); unknown
// ones are invalid.
//
// Encoding writes as a conforming writer: see Set.Encode. The output for the
// PS3.5 examples (e.g. "Yamada^Tarou=山田^太郎=やまだ^たろう" in
// \ISO 2022 IR 87 and "Hong^Gildong=洪^吉洞=홍^길동" in \ISO 2022 IR 149)
// is byte-identical to the standard's.
//
// # Mapping choices
//
// The tables come from golang.org/x/text (charmap, japanese, korean,
// simplifiedchinese), i.e. the WHATWG mappings, restricted to the
// repertoire of each registered set: JIS X 0208 rows 1–8 and 16–84 (no NEC
// or IBM vendor rows), the positions GB 2312 assigns, and no private-use
// (user-defined) positions. Six JIS X 0208 positions where WHATWG follows
// Microsoft's code page 932 use the JIS mapping instead (0x2141 is U+301C
// WAVE DASH, not U+FF5E; likewise U+2016, U+2212, U+00A2, U+00A3, U+00AC),
// as Python's iso2022_jp (pydicom) and iconv do. Checked position by
// position against Python's codecs, the two-byte tables agree except: JIS X
// 0212 0x2237 is U+FF5E (Python: U+007E), KS X 1001 0x2454 (HANGUL FILLER)
// is accepted, and GB 2312 A1A4/A1AA are U+00B7/U+2014 as in GB18030
// (Python: U+30FB/U+2015). ISO-IR 14 (JIS X 0201 Romaji) is treated as
// ASCII: its 0x5C (YEN SIGN) and 0x7E (OVERLINE) decode as '\' and '~', as
// in pydicom and most readers, because DICOM uses 0x5C as the value
// delimiter in every character set.
//
// Errors are wrapped; test them with errors.Is against ErrUnknownCharset,
// ErrInvalidCharset, ErrInvalidBytes, ErrNotRepresentable, ErrInvalidText
// and ErrNotText. Nothing in this package panics on any input.
package charset
