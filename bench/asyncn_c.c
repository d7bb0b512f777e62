// SPDX-License-Identifier: GPL-2.0-only
/*
 * asyncn_c: the benchmark baseline. The asyncn baseline semantics written
 * the classic C way, with the driver's structure: read_iter/write_iter (one
 * call, one message), reference-counted messages copied to and from user
 * memory with no lock held, a spare buffer swapped in under the mutex,
 * the subscribers on a fasync list, kill_fasync() after the unlock, and one
 * cdev for all devices added last. Nodes are /dev/asyncnc0 ... Built by
 * `make bench` only; never shipped.
 */
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/uio.h>

static unsigned int devices = 1;
module_param(devices, uint, 0444);
MODULE_PARM_DESC(devices, "Number of devices /dev/asyncncN (1-256)");
static unsigned int buffer_size = 256;
module_param(buffer_size, uint, 0444);
MODULE_PARM_DESC(buffer_size, "Size of each buffer in bytes (1-65536)");

struct asyncnc_msg {
	refcount_t ref;
	size_t len;
	char bytes[];
};

struct asyncnc_dev {
	struct mutex lock;	/* msg, spare, opens */
	struct asyncnc_msg *msg;	/* NULL before the first write */
	struct asyncnc_msg *spare;
	unsigned int opens;
	struct fasync_struct *subscribers;
};

static dev_t region;
static struct class *asyncnc_class;
static struct asyncnc_dev *devs;
static struct cdev asyncnc_cdev;

static struct asyncnc_msg *asyncnc_msg_alloc(void)
{
	struct asyncnc_msg *m = kvzalloc(struct_size(m, bytes, buffer_size), GFP_KERNEL);

	if (m)
		refcount_set(&m->ref, 1);
	return m;
}

static void asyncnc_msg_put(struct asyncnc_msg *m)
{
	if (m && refcount_dec_and_test(&m->ref))
		kvfree(m);
}

static int asyncnc_open(struct inode *inode, struct file *file)
{
	struct asyncnc_dev *dev = &devs[MINOR(inode->i_rdev) - MINOR(region)];

	if (mutex_lock_interruptible(&dev->lock))
		return -ERESTARTSYS;
	if (!dev->opens && !dev->spare) {
		dev->spare = asyncnc_msg_alloc();
		if (!dev->spare) {
			mutex_unlock(&dev->lock);
			return -ENOMEM;
		}
	}
	dev->opens++;
	mutex_unlock(&dev->lock);
	file->private_data = dev;
	return stream_open(inode, file);
}

static int asyncnc_fasync(int fd, struct file *file, int on)
{
	struct asyncnc_dev *dev = file->private_data;

	return fasync_helper(fd, file, on, &dev->subscribers);
}

static int asyncnc_release(struct inode *inode, struct file *file)
{
	struct asyncnc_dev *dev = file->private_data;
	struct asyncnc_msg *msg = NULL, *spare = NULL;

	fasync_helper(-1, file, 0, &dev->subscribers);
	mutex_lock(&dev->lock);
	if (--dev->opens == 0) {
		msg = dev->msg;
		spare = dev->spare;
		dev->msg = NULL;
		dev->spare = NULL;
	}
	mutex_unlock(&dev->lock);
	asyncnc_msg_put(msg);
	asyncnc_msg_put(spare);
	return 0;
}

static ssize_t asyncnc_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct asyncnc_dev *dev = iocb->ki_filp->private_data;
	size_t count = iov_iter_count(to);
	struct asyncnc_msg *m;
	ssize_t ret;

	if (!count)
		return 0;
	if (mutex_lock_interruptible(&dev->lock))
		return -ERESTARTSYS;
	m = dev->msg;
	if (m)
		refcount_inc(&m->ref);
	mutex_unlock(&dev->lock);
	if (!m)
		return 0;
	ret = min(count, m->len);
	if (copy_to_iter(m->bytes, ret, to) != ret)
		ret = -EFAULT;
	asyncnc_msg_put(m);
	return ret;
}

static ssize_t asyncnc_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct asyncnc_dev *dev = iocb->ki_filp->private_data;
	size_t n = min_t(size_t, iov_iter_count(from), buffer_size);
	struct asyncnc_msg *m, *old;

	if (!n)
		return 0;
	if (mutex_lock_interruptible(&dev->lock))
		return -ERESTARTSYS;
	m = dev->spare;
	dev->spare = NULL;
	mutex_unlock(&dev->lock);
	if (!m) {
		m = asyncnc_msg_alloc();
		if (!m)
			return -ENOMEM;
	}
	if (copy_from_iter(m->bytes, n, from) != n) {
		asyncnc_msg_put(m);
		return -EFAULT;
	}
	m->len = n;
	if (mutex_lock_interruptible(&dev->lock)) {
		asyncnc_msg_put(m);
		return -ERESTARTSYS;
	}
	old = dev->msg;
	dev->msg = m;
	/* The replaced message is the next spare unless a reader holds it. */
	if (!dev->spare && old && refcount_dec_if_one(&old->ref)) {
		refcount_set(&old->ref, 1);
		dev->spare = old;
		old = NULL;
	}
	mutex_unlock(&dev->lock);
	asyncnc_msg_put(old);
	kill_fasync(&dev->subscribers, SIGIO, POLL_IN);
	return n;
}

static const struct file_operations asyncnc_fops = {
	.owner = THIS_MODULE,
	.open = asyncnc_open,
	.release = asyncnc_release,
	.read_iter = asyncnc_read_iter,
	.write_iter = asyncnc_write_iter,
	.fasync = asyncnc_fasync,
};

static void asyncnc_remove(unsigned int nodes)
{
	while (nodes--)
		device_destroy(asyncnc_class, region + nodes);
}

static int __init asyncnc_init(void)
{
	unsigned int i;
	int ret;

	if (!devices || devices > 256 || !buffer_size || buffer_size > 65536)
		return -EINVAL;
	devs = kcalloc(devices, sizeof(*devs), GFP_KERNEL);
	if (!devs)
		return -ENOMEM;
	for (i = 0; i < devices; i++)
		mutex_init(&devs[i].lock);
	ret = alloc_chrdev_region(&region, 0, devices, "asyncnc");
	if (ret)
		goto free_devs;
	asyncnc_class = class_create("asyncnc");
	if (IS_ERR(asyncnc_class)) {
		ret = PTR_ERR(asyncnc_class);
		goto unregister;
	}
	/* Nodes first (opening one fails with ENXIO until the cdev is added). */
	for (i = 0; i < devices; i++) {
		struct device *node;

		node = device_create(asyncnc_class, NULL, region + i, NULL, "asyncnc%u", i);
		if (IS_ERR(node)) {
			ret = PTR_ERR(node);
			goto remove;
		}
	}
	/* Last, and all at once: the devices become usable here. */
	cdev_init(&asyncnc_cdev, &asyncnc_fops);
	asyncnc_cdev.owner = THIS_MODULE;
	ret = cdev_add(&asyncnc_cdev, region, devices);
	if (ret)
		goto remove;
	return 0;

remove:
	asyncnc_remove(i);
	class_destroy(asyncnc_class);
unregister:
	unregister_chrdev_region(region, devices);
free_devs:
	kfree(devs);
	return ret;
}

static void __exit asyncnc_exit(void)
{
	cdev_del(&asyncnc_cdev);
	asyncnc_remove(devices);
	class_destroy(asyncnc_class);
	unregister_chrdev_region(region, devices);
	kfree(devs);
}

module_init(asyncnc_init);
module_exit(asyncnc_exit);
MODULE_DESCRIPTION("asyncn benchmark baseline in C (not shipped)");
MODULE_LICENSE("GPL");
