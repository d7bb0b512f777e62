#
# SPDX-License-Identifier: GPL-2.0-only
#
# OEQA runtime test: `bitbake core-image-asyncn -c testimage` boots the image
# and runs asyncn-test on it.

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

    @OETestDepends(['asyncn.AsyncnTest.test_device_ready_at_boot'])
    @OEHasPackage(['asyncn-test'])
    def test_all_cases(self):
        status, output = self.target.run('asyncn-test all', timeout=600)
        self.assertEqual(status, 0, msg='asyncn-test all failed:\n%s' % output)

    @OETestDepends(['asyncn.AsyncnTest.test_all_cases'])
    @OEHasPackage(['asyncn-test'])
    def test_stress_and_fuzz(self):
        for run in ('stress', 'fuzz'):
            status, output = self.target.run('asyncn-test %s --seconds 30' % run, timeout=300)
            self.assertEqual(status, 0, msg='asyncn-test %s failed:\n%s' % (run, output))
