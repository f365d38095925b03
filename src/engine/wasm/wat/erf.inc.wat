;; erf of the four lanes of $erf_x, left on the stack: Eigen's float rational approximation,
;; x clamped to [-4, 4] (erf is ±1 to float precision beyond), an odd degree-13 numerator over an
;; even degree-8 denominator, max abs error ~3.5e-7. Included (by scripts/build-wasm.ts) into the
;; loop bodies of elementwise.wat, whose functions declare the v128 locals $erf_x (clamped here in
;; place), $erf_x2, $erf_p, $erf_q. Included rather than called: V8 does not inline wasm calls,
;; and a call per vector costs more than the arithmetic. erfApprox (erf.ts) is the same steps in
;; float32 JavaScript.
;;
;; pmin/pmax (b < a ? b : a, a < b ? b : a) are one minps/maxps each, where V8's NaN-exact
;; f32x4.min/max take several instructions (measured 4x slower); with the constant as b, a NaN
;; lane is kept.
(local.set $erf_x (f32x4.pmin (f32x4.pmax (local.get $erf_x) (global.get $minus_four)) (global.get $four)))
(local.set $erf_x2 (f32x4.mul (local.get $erf_x) (local.get $erf_x)))
;; p = x·(α6·x² + α5)·x² + … + α0, by Horner in x²
(local.set $erf_p (global.get $erf_a6))
(local.set $erf_p (f32x4.add (f32x4.mul (local.get $erf_p) (local.get $erf_x2)) (global.get $erf_a5)))
(local.set $erf_p (f32x4.add (f32x4.mul (local.get $erf_p) (local.get $erf_x2)) (global.get $erf_a4)))
(local.set $erf_p (f32x4.add (f32x4.mul (local.get $erf_p) (local.get $erf_x2)) (global.get $erf_a3)))
(local.set $erf_p (f32x4.add (f32x4.mul (local.get $erf_p) (local.get $erf_x2)) (global.get $erf_a2)))
(local.set $erf_p (f32x4.add (f32x4.mul (local.get $erf_p) (local.get $erf_x2)) (global.get $erf_a1)))
(local.set $erf_p (f32x4.add (f32x4.mul (local.get $erf_p) (local.get $erf_x2)) (global.get $erf_a0)))
(local.set $erf_p (f32x4.mul (local.get $erf_p) (local.get $erf_x)))
;; q = (β4·x² + β3)·x² + … + β0
(local.set $erf_q (global.get $erf_b4))
(local.set $erf_q (f32x4.add (f32x4.mul (local.get $erf_q) (local.get $erf_x2)) (global.get $erf_b3)))
(local.set $erf_q (f32x4.add (f32x4.mul (local.get $erf_q) (local.get $erf_x2)) (global.get $erf_b2)))
(local.set $erf_q (f32x4.add (f32x4.mul (local.get $erf_q) (local.get $erf_x2)) (global.get $erf_b1)))
(local.set $erf_q (f32x4.add (f32x4.mul (local.get $erf_q) (local.get $erf_x2)) (global.get $erf_b0)))
(f32x4.div (local.get $erf_p) (local.get $erf_q))
