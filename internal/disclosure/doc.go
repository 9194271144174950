// Package disclosure is what a node does to a count before it leaves: small
// cells suppressed, Laplace noise that is the same for the same question
// from the same researcher, and a privacy budget per researcher.
//
// Counts. A released count is a [Count]: a number, or "fewer than the
// threshold", which marshals as the string "< 10" and has no number to
// read, so it cannot be taken for an exact count.
//
// Noise. The Laplace mechanism (Dwork and Roth, "The Algorithmic
// Foundations of Differential Privacy", 2014, Definition 3.3 and Theorem
// 3.6): a count has sensitivity 1 (one person more or less changes it by at
// most 1), so adding noise drawn from Laplace(0, b) with b = 1/ε makes its
// release ε-differentially private. The noise is drawn by inverse transform
// sampling (Devroye, "Non-Uniform Random Variate Generation", 1986, §II.2)
// from a uniform u in (0, 1): the Laplace distribution's CDF is
// F(x) = ½·exp(x/b) for x < 0 and 1 − ½·exp(−x/b) for x ≥ 0, so
//
//	F⁻¹(u) = b·ln(2u)          for u < ½
//	F⁻¹(u) = −b·ln(2(1 − u))   for u ≥ ½
//
// u is not random: it is derived with HMAC-SHA256 (RFC 2104) keyed with the
// node's secret over the researcher, the query's hash and the count's label,
// its first 53 bits k giving u = (k + ½)/2⁵³, never 0 or 1. HMAC with a
// secret key is a pseudo-random function, so u is as good as uniform to
// whoever lacks the key, and the same question asked again gets the same
// noise: averaging repeated answers learns nothing more (no averaging
// attack). The noisy count is rounded to the nearest integer and floored at
// 0; both are post-processing, which keeps the guarantee (Dwork and Roth,
// Proposition 2.1).
//
// Suppression. A count is released as "< threshold" when its true value is
// below the threshold — the data holder's rule that a group of fewer people
// never gets a number, even a noisy one — or when its noisy value is, so
// that a released number never hints that the true one is near the
// threshold. The first rule depends on the true count and is outside the
// differential-privacy guarantee: it is the policy data holders ask for.
//
// Budget. One answer releases k counts (e.g. subjects and studies of each
// dataset); the policy's ε is split among them, each getting noise of scale
// k/ε, so that by sequential composition (Dwork and Roth, Theorem 3.14) the
// answer costs ε. A [Ledger] in the node's store charges each researcher ε
// per new question per period and refuses a question that would exceed the
// budget; a question already asked this period returns its stored answer and
// costs nothing.
//
// The ledger's tables are in migration.sql ([MigrationSQL]), a goose
// migration for the node's store.
package disclosure
