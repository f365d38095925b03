// Lopper's WebAssembly modules (src/engine/wasm/wat/, assembled by scripts/build-wasm.ts): each
// validates, exports what the loader expects, and is the path that actually runs on this Node
// (which has SIMD), and every kernel gives, bit for bit, what the hex-assembled kernels it
// replaced gave on the kernel tests' inputs (the digests below were recorded from that build).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { MODULES, type ModuleName, compileModule, kernel, moduleBytes, simdUses, simdSupported } from '../../src/engine/wasm/modules.js';
import { setupBackends } from './helpers.js';
import { BIT_CASES, digest, outputs } from './wasm-bits.js';

before(setupBackends);

/** sha256 prefixes of each case's outputs from the kernels before the WAT rewrite (commit 3d48ef7). */
const DIGESTS: Record<string, string> = {
  'exp: edge values': '561b161bb6dc432e',
  'exp: n=1': '8e3183a0b8e55753',
  'erf: n=1': '35cc157c23e83a0d',
  'exp: n=2': 'cb685b6efed8bb00',
  'erf: n=2': '3be542dd9dc12808',
  'exp: n=3': '338895669b88ad6b',
  'erf: n=3': 'f8c5b7b8ce5e9848',
  'exp: n=4': '6d4855d9544ff1c6',
  'erf: n=4': 'e811bee57a095384',
  'exp: n=5': '92d0ebc10a6d6261',
  'erf: n=5': '9ab4b77fec276a52',
  'exp: n=7': '18445060802b6dc0',
  'erf: n=7': '03665d5e07833fa1',
  'exp: n=64': '2afe1214db3413eb',
  'erf: n=64': 'c068b35c25efd77f',
  'exp: n=1001': '20664a62e9b64f9a',
  'erf: n=1001': 'e3b59f85df392b7f',
  'gelu: edge values': '659f713c1cda5ee3',
  'gelu: n=1': 'fdde24e2278897a6',
  'gelu: n=3': 'e1a2eebfbf45fe32',
  'gelu: n=4': 'e76eb1beab2a5310',
  'gelu: n=7': '8378984b40fdcc40',
  'gelu: n=1001': '3f24d4a32e4c019c',
  'layer-norm: [64,64]': 'ae2c5432a18153bd',
  'layer-norm: [3,16,12]': 'aa04da7529f1efeb',
  'layer-norm: [5,6]': '3d55371daa341d5c',
  'layer-norm: [2,3,1]': '5ce23c659079bb49',
  'adamw: n=1 decay': 'e0f933898a93d02f',
  'adamw: n=1': 'e0f933898a93d02f',
  'adamw: n=3 decay': 'c10ab840010d8583',
  'adamw: n=3': '4f8456e8de11c7e3',
  'adamw: n=4 decay': '16b813e0dc3a889e',
  'adamw: n=4': '727b53c0a9c42443',
  'adamw: n=9 decay': 'd5b9bb9a42b68e64',
  'adamw: n=9': '56d25e242beac6ec',
  'adamw: n=1001 decay': 'c6569135a0d6ad39',
  'adamw: n=1001': '6a030510b3d77f72',
  'colsum: [4096,64] over [0]': 'a8b81a58accf43ae',
  'colsum: [32,16,192] over [0,1]': '81ef88cad346b2e7',
  'colsum: [32,16,192] over [0,1] keepDims': 'f02b185a8ba2dd04',
  'colsum: [7,10] over [0]': '4f822fc4de3351ab',
  'colsum: [9,5] over [0] keepDims': '05d068623e43db1a',
  'colsum: [1,50,1,8] over [0,1,2]': '3f659bb8228cd0c1',
  'bmm: [5,7] x [7,3]': '44f3e7992fc9aa2e',
  'bmm: [5,7] x [7,3] tb': 'd093b0cc67f69169',
  'bmm: [5,7] x [7,3] ta': '30f9952701e716bb',
  'bmm: [5,7] x [7,3] ta tb': '433ac1e8806f8fa2',
  'bmm: [1,9,6] x [1,6,4]': 'bbd0626f1ca1ad1a',
  'bmm: [1,9,6] x [1,6,4] tb': 'e44a01092d4b1976',
  'bmm: [1,9,6] x [1,6,4] ta': 'eb3d011b35f3aac9',
  'bmm: [1,9,6] x [1,6,4] ta tb': 'cee457b05489e9bf',
  'bmm: [3,5,7] x [7,4]': '72be191d72e44d82',
  'bmm: [3,5,7] x [7,4] tb': '53bae8e3bfe22342',
  'bmm: [3,5,7] x [7,4] ta': 'd539d89f873e1fe5',
  'bmm: [3,5,7] x [7,4] ta tb': '69875df34fc97e03',
  'bmm: [2,3,5,7] x [1,7,4]': '38cbe8ef8c6f1d5c',
  'bmm: [2,3,5,7] x [1,7,4] tb': '000ddd74dc6ae150',
  'bmm: [2,3,5,7] x [1,7,4] ta': 'd41f82d259b18b81',
  'bmm: [2,3,5,7] x [1,7,4] ta tb': '6a34eaf3c7d1da3c',
  'bmm: [5,7] x [3,7,4]': 'fbcde49038d8492d',
  'bmm: [5,7] x [3,7,4] tb': '41780acc50947c47',
  'bmm: [5,7] x [3,7,4] ta': '84b6a689d40f9f82',
  'bmm: [5,7] x [3,7,4] ta tb': '4a9562bd9bb84652',
  'bmm: [1,5,7] x [2,3,7,4]': 'a341f55efc328302',
  'bmm: [1,5,7] x [2,3,7,4] tb': 'c2a89c8cd179568f',
  'bmm: [1,5,7] x [2,3,7,4] ta': '47c08f170004b558',
  'bmm: [1,5,7] x [2,3,7,4] ta tb': '5a0963bc0ce244d5',
  'bmm: [3,5,7] x [3,7,4]': '6f05ef5da192ed56',
  'bmm: [3,5,7] x [3,7,4] tb': '5d94adb799507365',
  'bmm: [3,5,7] x [3,7,4] ta': '3a2b0583b1ac0b08',
  'bmm: [3,5,7] x [3,7,4] ta tb': '140b7fafc3d07ef4',
  'bmm: [3,5,7] x [3,7,9]': '4b6d8d945b65495a',
  'bmm: [3,5,7] x [3,7,9] tb': 'e7ecf1d99f0f1e31',
  'bmm: [3,5,7] x [3,7,9] ta': '0b7aafd0532da1b6',
  'bmm: [3,5,7] x [3,7,9] ta tb': 'c1db9a50ae17ded0',
  'bmm: [2,17,16] x [2,16,37]': '2588093dd2b4350c',
  'bmm: [2,17,16] x [2,16,37] tb': 'cf4ea3f328fb3225',
  'bmm: [2,17,16] x [2,16,37] ta': '6d97c3b5193be3ed',
  'bmm: [2,17,16] x [2,16,37] ta tb': 'f2cbe3f83c5f72ed',
  'bmm: [2,4,16,16] x [2,4,16,16]': '65ca7086092d8e1c',
  'bmm: [2,4,16,16] x [2,4,16,16] tb': 'a49117a50945e914',
  'bmm: [2,4,16,16] x [2,4,16,16] ta': '2e797e7d252a8e28',
  'bmm: [2,4,16,16] x [2,4,16,16] ta tb': 'd63fe303ece071aa',
  'bmm: [2,3,5,7] x [1,3,7,4]': 'e2f96398b1c015d6',
  'bmm: [2,3,5,7] x [1,3,7,4] tb': '56e0bbb6c8ea70a3',
  'bmm: [2,3,5,7] x [1,3,7,4] ta': '70aa17e29296ab3c',
  'bmm: [2,3,5,7] x [1,3,7,4] ta tb': '559befe4a81a0239',
  'bmm: [1,5,7] x [4,7,4]': '962de840fadef9eb',
  'bmm: [1,5,7] x [4,7,4] tb': '69b22b7d7df85ba4',
  'bmm: [1,5,7] x [4,7,4] ta': '4dc13fb3c6ececa3',
  'bmm: [1,5,7] x [4,7,4] ta tb': '5c087f83bfcbd86b',
  'bmm: [2,3,5,7] x [2,1,7,4]': 'ea6bcd58f75711f1',
  'bmm: [2,3,5,7] x [2,1,7,4] tb': 'c6b375080f5337ce',
  'bmm: [2,3,5,7] x [2,1,7,4] ta': 'e816848935807162',
  'bmm: [2,3,5,7] x [2,1,7,4] ta tb': '74066863a553f430',
  'bmm: [6,300] x [300,21]': '4226e12df7fc895b',
  'bmm: [6,300] x [300,21] tb': 'ad8d1d634444e222',
  'bmm: [6,300] x [300,21] ta': '2e77a759aa61d900',
  'bmm: [6,300] x [300,21] ta tb': '9c28aa9586f94255',
  'bmm: [2,5,257] x [2,257,9]': 'eff0675a1bb0ccce',
  'bmm: [2,5,257] x [2,257,9] tb': '49d8a3511585aebc',
  'bmm: [2,5,257] x [2,257,9] ta': '5cc90f178a6d606f',
  'bmm: [2,5,257] x [2,257,9] ta tb': 'ce58283297b90835',
  'bmm: [32,300] x [300,21]': '27f235961b40f79e',
  'bmm: [32,300] x [300,21] tb': '870b735098f82fdf',
  'bmm: [32,300] x [300,21] ta': '354ddbf29bb80b0f',
  'bmm: [32,300] x [300,21] ta tb': '33723c3a5a3704d1',
  'bmm: [4,8,130] x [130,9]': '7f0f993b65bb2a5a',
  'bmm: [4,8,130] x [130,9] tb': 'e639ef90320e6bb6',
  'bmm: [4,8,130] x [130,9] ta': 'ee360f626f3650e1',
  'bmm: [4,8,130] x [130,9] ta tb': '7bb36240d6145256',
  'block-transpose: [3,4,3,2,8] by [2,0,3,1,4]': 'aed8f293663da774',
  'block-transpose: [2,5,3,12] by [0,2,1,3]': '789cba27ae334f11',
  'block-transpose: [4,6,8] by [1,0,2]': '7610b38b242660f3',
};

test('this Node runs WebAssembly SIMD, so no kernel may take its portable path for want of it', () => {
  assert.equal(simdSupported(), true);
});

for (const name of Object.keys(MODULES) as ModuleName[]) {
  test(`${name}.wasm validates, imports only env.memory and exports ${MODULES[name].join(', ')}`, () => {
    const bytes = moduleBytes(name);
    assert.ok(WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>));
    const mod = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    assert.deepEqual(WebAssembly.Module.imports(mod), [{ module: 'env', name: 'memory', kind: 'memory' }]);
    assert.deepEqual(
      WebAssembly.Module.exports(mod)
        .map((e) => `${e.kind} ${e.name}`)
        .sort(),
      MODULES[name].map((f) => `function ${f}`).sort(),
    );
  });
}

test('a module that does not compile is an error naming it, not a silent fallback', () => {
  assert.throws(() => compileModule('bmm', moduleBytes('bmm').slice(0, 40)), /module bmm\.wasm does not compile/);
  assert.throws(() => kernel('bmm', 'erf'), /module bmm has no function erf/);
  // Instantiated against a memory, every function is there (null only where SIMD is missing).
  const memory = new WebAssembly.Memory({ initial: 1 });
  for (const name of Object.keys(MODULES) as ModuleName[]) {
    for (const fn of MODULES[name]) assert.equal(typeof kernel(name, fn)(memory), 'function', `${name}.${fn}`);
  }
});

test('every case gives the bits of the kernels before the rewrite, on the SIMD function it names', () => {
  assert.deepEqual(Object.keys(BIT_CASES).sort(), Object.keys(DIGESTS).sort());
  for (const [name, c] of Object.entries(BIT_CASES)) {
    const before = simdUses();
    const got = digest(outputs(c.run));
    const after = simdUses();
    const ran = Object.keys(after).filter((k) => after[k] !== before[k]);
    assert.equal(got, DIGESTS[name], `${name}: output bits`);
    if (c.simd) assert.ok(ran.includes(c.simd), `${name}: ran ${c.simd} (ran ${ran.join(', ') || 'no SIMD function'})`);
    else assert.deepEqual(ran, [], `${name}: the portable path only`);
  }
  // Between them the cases run every function of every module.
  const uses = simdUses();
  for (const name of Object.keys(MODULES) as ModuleName[]) {
    for (const fn of MODULES[name]) assert.ok((uses[`${name}.${fn}`] ?? 0) > 0, `${name}.${fn} never ran`);
  }
});
