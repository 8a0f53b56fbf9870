/**
 * grpc-js-xds 1.14 enforces RBAC (gRFC A41) only with GRPC_XDS_EXPERIMENTAL_RBAC=true, read
 * once when the package loads; without it an RBAC filter is unknown and the server NACKs the
 * Listener. Import this module before anything that loads @grpc/grpc-js-xds.
 */
process.env.GRPC_XDS_EXPERIMENTAL_RBAC = 'true';
