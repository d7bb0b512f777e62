#
# SPDX-License-Identifier: GPL-2.0-only
#
# OEQA runtime test: `bitbake core-image-asyncn -c testimage` boots the image
# (QEMU), logs in as root over ssh (the development features of kas/common.yml)
# and runs asyncn-test on it: the scenario, the suite through
# `ptest-runner asyncn-test`, then stress and fuzz.

from oeqa.core.decorator.depends import OETestDepends
from oeqa.runtime.case import OERuntimeTestCase
from oeqa.runtime.decorator.package import OEHasPackage


class AsyncnTest(OERuntimeTestCase):

    @OETestDepends(['ssh.SSHTest.test_ssh'])
    @OEHasPackage(['asyncn'])
    def test_device_ready_at_boot(self):
        status, output = self.target.run('test -c /dev/asyncn0 && ls -l /dev/asyncn0')
        self.assertEqual(status, 0, msg='/dev/asyncn0 missing after boot: %s' % output)

    @OETestDepends(['asyncn.AsyncnTest.test_device_ready_at_boot'])
    @OEHasPackage(['asyncn-test'])
    def test_scenario(self):
        status, output = self.target.run('asyncn-test scenario')
        self.assertEqual(status, 0, msg='SIGIO scenario failed:\n%s' % output)

    # The whole suite as a ptest: app/run-ptest, installed by
    # asyncn-test-ptest (DISTRO_FEATURES "ptest"), runs `asyncn-test all`
    # and prints one PASS:/FAIL:/SKIP: line per case.
    @OETestDepends(['asyncn.AsyncnTest.test_device_ready_at_boot'])
    @OEHasPackage(['asyncn-test-ptest'])
    @OEHasPackage(['ptest-runner'])
    def test_ptest(self):
        status, output = self.target.run('ptest-runner asyncn-test', timeout=900)
        failed = [line for line in output.splitlines() if line.startswith('FAIL:')]
        self.assertEqual(status, 0, msg='ptest-runner asyncn-test failed:\n%s' % output)
        self.assertFalse(failed, msg='asyncn-test cases failed:\n%s' % '\n'.join(failed))
        self.assertIn('PASS:', output, msg='ptest-runner asyncn-test ran no case:\n%s' % output)

    # Without ptest in DISTRO_FEATURES, the suite runs directly.
    @OETestDepends(['asyncn.AsyncnTest.test_device_ready_at_boot'])
    @OEHasPackage(['asyncn-test'])
    def test_all_cases(self):
        if 'asyncn-test-ptest' in self.tc.image_packages:
            self.skipTest('asyncn-test-ptest is installed: test_ptest runs the cases')
        status, output = self.target.run('asyncn-test all', timeout=900)
        self.assertEqual(status, 0, msg='asyncn-test all failed:\n%s' % output)

    @OETestDepends(['asyncn.AsyncnTest.test_device_ready_at_boot'])
    @OEHasPackage(['asyncn-test'])
    def test_stress_and_fuzz(self):
        for run in ('stress', 'fuzz'):
            status, output = self.target.run('asyncn-test %s --seconds 30' % run, timeout=300)
            self.assertEqual(status, 0, msg='asyncn-test %s failed:\n%s' % (run, output))
