package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Env names the environment variable holding the base URL of the S3
// server the tests use, e.g. http://127.0.0.1:7070. scripts/test/versitygw.sh
// starts one and prints it.
const S3Env = "CIE_TEST_S3"

// s3Region is used when AWS_REGION is unset; S3-compatible test servers
// accept any region.
const s3Region = "us-east-1"

// S3 returns the URL of a fresh, empty bucket for this test on the S3 server
// named by the environment variable CIE_TEST_S3 (e.g. http://127.0.0.1:7070),
// in the form internal/blob opens:
//
//	s3://BUCKET?endpoint=http%3A%2F%2F127.0.0.1%3A7070&region=us-east-1&use_path_style=true
//
// Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (set by
// the script too); the region from AWS_REGION, else us-east-1. The bucket
// has a unique lower-case name; t.Cleanup removes its objects, its unfinished
// multipart uploads and the bucket itself.
//
// If CIE_TEST_S3 is unset, S3 skips the test, or fails it when the
// environment variable CI is "true" or CIE_TEST_REQUIRE_ALL is "1": there
// every test must run. Start a server with
//
//	eval "$(scripts/test/versitygw.sh)"
func S3(t testing.TB) string {
	t.Helper()
	endpoint := os.Getenv(S3Env)
	if endpoint == "" {
		msg := S3Env + " is unset: no S3 server to test against; start one with: eval \"$(scripts/test/versitygw.sh)\""
		if RequireAll() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		t.Fatalf("%s=%q: want a base URL such as http://127.0.0.1:7070", S3Env, endpoint)
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" || os.Getenv("AWS_SECRET_ACCESS_KEY") == "" {
		t.Fatalf("%s is set but AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is not; eval \"$(scripts/test/versitygw.sh)\" sets all three", S3Env)
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = s3Region
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := newS3Client(ctx, endpoint, region)
	if err != nil {
		t.Fatalf("S3 client for %s: %v", endpoint, err)
	}
	bucket := bucketName(t.Name())
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("creating bucket %s on %s: %v", bucket, endpoint, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := removeBucket(ctx, client, bucket); err != nil {
			t.Errorf("removing test bucket %s: %v", bucket, err)
		}
	})

	q := url.Values{}
	q.Set("endpoint", endpoint)
	q.Set("region", region)
	q.Set("use_path_style", "true")
	return "s3://" + bucket + "?" + q.Encode()
}

func newS3Client(ctx context.Context, endpoint, region string) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	}), nil
}

// bucketName makes a unique, valid bucket name (3–63 characters of a–z, 0–9
// and "-", starting and ending with a letter or digit) that hints at the
// test's name.
func bucketName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			b.WriteRune(r)
		default:
			if s := b.String(); s != "" && !strings.HasSuffix(s, "-") {
				b.WriteByte('-')
			}
		}
		if b.Len() >= 30 {
			break
		}
	}
	hint := strings.Trim(b.String(), "-")
	if len(hint) > 30 {
		hint = strings.Trim(hint[:30], "-")
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:]) // never fails
	name := "cie-" + hex.EncodeToString(rnd[:])
	if hint != "" {
		name += "-" + hint
	}
	return name
}

// removeBucket aborts unfinished multipart uploads, deletes every object and
// then the bucket.
func removeBucket(ctx context.Context, client *s3.Client, bucket string) error {
	var errs []error
	mp := &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)}
	for {
		out, err := client.ListMultipartUploads(ctx, mp)
		if err != nil {
			errs = append(errs, err)
			break
		}
		for _, u := range out.Uploads {
			if _, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId,
			}); err != nil {
				errs = append(errs, err)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		mp.KeyMarker, mp.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			errs = append(errs, err)
			break
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, 0, len(page.Contents))
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		out, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range out.Errors {
			errs = append(errs, errors.New(aws.ToString(e.Key)+": "+aws.ToString(e.Message)))
		}
	}
	if _, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
