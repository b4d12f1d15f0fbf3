export { createEtcdRegistrar, type EtcdRegistrar, type EtcdRegistrarOptions, type EtcdRegistration } from "./etcd-registrar.js";
export { createEtcdResolverFactory, etcdResolverFactory, type EtcdResolverFactoryOptions } from "./etcd-resolver.js";
export type { EtcdConnectionOptions } from "./etcd-client.js";
export { DEFAULT_ETCD_PREFIX } from "./endpoint-codec.js";
