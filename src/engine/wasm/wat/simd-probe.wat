;; The smallest module that uses WebAssembly SIMD. Where it does not validate, the platform lacks
;; SIMD and Lopper's kernels take their portable paths (modules.ts); where it does, every kernel
;; module must compile, and one that does not is a bug, reported as an error.
(module
  (func (export "probe") (result v128) (v128.const i32x4 0 0 0 0)))
