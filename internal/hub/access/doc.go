// Package access is the hub's access negotiation: a researcher asks for datasets of one or
// more nodes, and each dataset's own data holder decides, following the life cycle of the
// BBMRI-ERIC Negotiator that EUCAIM uses.
//
// A request moves Submitted → UnderReview → InProgress → Concluded, or to Abandoned (the
// researcher withdraws) or Declined (the platform's review refuses it). Each requested
// dataset is a part with its own state, moved only by a data holder of the dataset's node:
//
//	Submitted → CheckingAvailability → Available → ConditionsIndicated → ConditionsMet → MadeAvailable
//	                                 ↘ Unavailable                      ↘ NotMadeAvailable
//
// (steps may be skipped forward; the last three on each line end the part). When every part
// has ended, the request is Concluded. A part that reaches MadeAvailable is an approval:
// the hub then issues a visa for that dataset and access model (package visa).
package access
