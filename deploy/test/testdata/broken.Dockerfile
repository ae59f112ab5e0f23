# A Dockerfile with faults readDockerfile must report (TestDockerfileBroken): a user name, a port
# that is not WFR_ADDR's, an entrypoint the build did not write, and a setting that does not exist.
FROM golang:1.26 AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -o /out/workflow-runtime ./cmd/workflow-runtime

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/workflow-runtime /workflow-runtime
ENV WFR_ADDR=:8080 WFR_LISTEN=:9090
EXPOSE 9090
USER nonroot
ENTRYPOINT ["/usr/bin/workflow-runtime"]
CMD ["serve"]
