# escape=`
# A Dockerfile under another name (-f), with the backtick as the escape character.
ARG REGISTRY
FROM ${REGISTRY}/busybox
RUN echo one `
    two > /joined
COPY file.txt /copied
# (No backslash in COPY arguments: with escape=` Docker keeps `\` literally, buildah 1.28 drops it.)
