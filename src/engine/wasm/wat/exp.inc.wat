;; exp of the four lanes of $exp_x0, left on the stack: Cephes' expf. Included (by
;; scripts/build-wasm.ts) into the loop bodies of elementwise.wat, whose functions declare the
;; v128 locals $exp_x0 (kept), $exp_x, $exp_n, $exp_p. Included rather than called: V8 does not
;; inline wasm calls. expApprox (exp.ts) is the same steps in float32 JavaScript.
;;
;; n = round(x·log2 e), r = x − n·ln 2 (ln 2 in two parts: LN2_HI has few bits, so n·LN2_HI is
;; exact), exp(r) by a degree-6 polynomial, times 2^n built in the exponent bits. 2^n is applied
;; as 2^(n>>1)·2^(n − n>>1), so that results down to the denormals come out right (2^n alone
;; would underflow to 0 for n < −126 before the multiply). x is clamped to [−104, ln(FLT_MAX)]
;; (exp(−104) rounds to 0 in float32); lanes above ln(FLT_MAX) become +∞ at the end, and NaN
;; lanes stay NaN (pmax/pmin keep a NaN a). Max relative error ~2e-7 (1-2 ulp).
(local.set $exp_x (f32x4.pmin (f32x4.pmax (local.get $exp_x0) (global.get $exp_x_min)) (global.get $exp_x_max)))
(local.set $exp_n (f32x4.nearest (f32x4.mul (local.get $exp_x) (global.get $exp_log2e))))
(local.set $exp_x (f32x4.sub
  (f32x4.sub (local.get $exp_x) (f32x4.mul (local.get $exp_n) (global.get $exp_ln2_hi)))
  (f32x4.mul (local.get $exp_n) (global.get $exp_ln2_lo))))
;; p = poly(r) by Horner; then y = p·r² + r + 1 into p
(local.set $exp_p (global.get $exp_p5))
(local.set $exp_p (f32x4.add (f32x4.mul (local.get $exp_p) (local.get $exp_x)) (global.get $exp_p4)))
(local.set $exp_p (f32x4.add (f32x4.mul (local.get $exp_p) (local.get $exp_x)) (global.get $exp_p3)))
(local.set $exp_p (f32x4.add (f32x4.mul (local.get $exp_p) (local.get $exp_x)) (global.get $exp_p2)))
(local.set $exp_p (f32x4.add (f32x4.mul (local.get $exp_p) (local.get $exp_x)) (global.get $exp_p1)))
(local.set $exp_p (f32x4.add (f32x4.mul (local.get $exp_p) (local.get $exp_x)) (global.get $exp_p0)))
(local.set $exp_p (f32x4.add
  (f32x4.add (f32x4.mul (local.get $exp_p) (f32x4.mul (local.get $exp_x) (local.get $exp_x))) (local.get $exp_x))
  (global.get $one)))
;; n as i32 lanes; y · 2^(n>>1) · 2^(n − n>>1), 2^k being the float bits (k + 127) << 23
(local.set $exp_n (i32x4.trunc_sat_f32x4_s (local.get $exp_n)))
(local.set $exp_p (f32x4.mul
  (f32x4.mul
    (local.get $exp_p)
    (i32x4.shl (i32x4.add (i32x4.shr_s (local.get $exp_n) (i32.const 1)) (global.get $i32_127)) (i32.const 23)))
  (i32x4.shl
    (i32x4.add (i32x4.sub (local.get $exp_n) (i32x4.shr_s (local.get $exp_n) (i32.const 1))) (global.get $i32_127))
    (i32.const 23))))
;; +∞ above ln(FLT_MAX), where the clamp made the result finite
(v128.bitselect (global.get $infinity) (local.get $exp_p) (f32x4.gt (local.get $exp_x0) (global.get $exp_x_max)))
