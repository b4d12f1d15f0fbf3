// ZooKeeper service discovery for Petrel: ephemeral-znode registration and a watching resolver.
export { createZkRegistrar, type ZkRegistrar, type ZkRegistrarOptions, type ZkRegistration } from "./zk-registrar.js";
export { createZkResolverFactory, zkResolverFactory, type ZkResolverFactoryOptions } from "./zk-resolver.js";
export { DEFAULT_ZK_ROOT } from "./zk-endpoint.js";
