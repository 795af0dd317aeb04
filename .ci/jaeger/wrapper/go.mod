// Wrapper module that builds Jaeger v2 (cmd/jaeger). `go install ...@v1.76.0` is refused because
// Jaeger's go.mod has a replace directive; a main module can carry that replace itself.
// .ci/jaeger.sh copies this file to a temp dir with Jaeger's own go.sum, so the checksums of the
// versions Jaeger was released with are reused. Keep JAEGER_VERSION in .ci/jaeger.sh in step.
module eps-fhir-tracker.ci/jaeger-wrapper

go 1.26

require github.com/jaegertracing/jaeger v1.76.0

replace github.com/Shopify/sarama => github.com/Shopify/sarama v1.33.0
