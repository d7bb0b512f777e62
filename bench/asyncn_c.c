// SPDX-License-Identifier: GPL-2.0-only
/*
 * asyncn_c: the benchmark baseline. The asyncn baseline semantics written
 * the classic C way: one fixed buffer per device under a mutex, the
 * subscribers on a fasync list, kill_fasync() after the copy. Nodes are
 * /dev/asyncnc0 ... Built by `make bench` only; never shipped.
 */
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

static unsigned int devices = 1;
module_param(devices, uint, 0444);
MODULE_PARM_DESC(devices, "Number of devices /dev/asyncncN (1-256)");
static unsigned int buffer_size = 256;
module_param(buffer_size, uint, 0444);
MODULE_PARM_DESC(buffer_size, "Size of each buffer in bytes (1-65536)");

struct asyncnc_dev {
	struct mutex lock;	/* buffer, len, opens */
	char *buffer;
	size_t len;
	unsigned int opens;
	struct fasync_struct *subscribers;
	struct cdev cdev;
};

static dev_t region;
static struct class *asyncnc_class;
static struct asyncnc_dev *devs;

static int asyncnc_open(struct inode *inode, struct file *file)
{
	struct asyncnc_dev *dev = container_of(inode->i_cdev, struct asyncnc_dev, cdev);

	if (mutex_lock_interruptible(&dev->lock))
		return -ERESTARTSYS;
	if (!dev->buffer) {
		dev->buffer = kzalloc(buffer_size, GFP_KERNEL);
		if (!dev->buffer) {
			mutex_unlock(&dev->lock);
			return -ENOMEM;
		}
		dev->len = 0;
	}
	dev->opens++;
	mutex_unlock(&dev->lock);
	file->private_data = dev;
	return 0;
}

static int asyncnc_fasync(int fd, struct file *file, int on)
{
	struct asyncnc_dev *dev = file->private_data;

	return fasync_helper(fd, file, on, &dev->subscribers);
}

static int asyncnc_release(struct inode *inode, struct file *file)
{
	struct asyncnc_dev *dev = file->private_data;

	fasync_helper(-1, file, 0, &dev->subscribers);
	mutex_lock(&dev->lock);
	if (--dev->opens == 0) {
		kfree(dev->buffer);
		dev->buffer = NULL;
		dev->len = 0;
	}
	mutex_unlock(&dev->lock);
	return 0;
}

static ssize_t asyncnc_read(struct file *file, char __user *buf, size_t count, loff_t *pos)
{
	struct asyncnc_dev *dev = file->private_data;
	ssize_t ret;

	if (mutex_lock_interruptible(&dev->lock))
		return -ERESTARTSYS;
	ret = min(count, dev->len);
	if (copy_to_user(buf, dev->buffer, ret))
		ret = -EFAULT;
	mutex_unlock(&dev->lock);
	return ret;
}

static ssize_t asyncnc_write(struct file *file, const char __user *buf, size_t count, loff_t *pos)
{
	struct asyncnc_dev *dev = file->private_data;
	size_t n = min_t(size_t, count, buffer_size);

	if (!n)
		return 0;
	if (mutex_lock_interruptible(&dev->lock))
		return -ERESTARTSYS;
	if (copy_from_user(dev->buffer, buf, n)) {
		dev->len = 0;
		mutex_unlock(&dev->lock);
		return -EFAULT;
	}
	dev->len = n;
	mutex_unlock(&dev->lock);
	kill_fasync(&dev->subscribers, SIGIO, POLL_IN);
	return n;
}

static const struct file_operations asyncnc_fops = {
	.owner = THIS_MODULE,
	.open = asyncnc_open,
	.release = asyncnc_release,
	.read = asyncnc_read,
	.write = asyncnc_write,
	.fasync = asyncnc_fasync,
};

static void asyncnc_remove(unsigned int registered)
{
	while (registered--) {
		device_destroy(asyncnc_class, region + registered);
		cdev_del(&devs[registered].cdev);
	}
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
	ret = alloc_chrdev_region(&region, 0, devices, "asyncnc");
	if (ret)
		goto free_devs;
	asyncnc_class = class_create("asyncnc");
	if (IS_ERR(asyncnc_class)) {
		ret = PTR_ERR(asyncnc_class);
		goto unregister;
	}
	for (i = 0; i < devices; i++) {
		struct device *node;

		mutex_init(&devs[i].lock);
		cdev_init(&devs[i].cdev, &asyncnc_fops);
		devs[i].cdev.owner = THIS_MODULE;
		ret = cdev_add(&devs[i].cdev, region + i, 1);
		if (ret)
			goto remove;
		node = device_create(asyncnc_class, NULL, region + i, NULL, "asyncnc%u", i);
		if (IS_ERR(node)) {
			ret = PTR_ERR(node);
			cdev_del(&devs[i].cdev);
			goto remove;
		}
	}
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
	asyncnc_remove(devices);
	class_destroy(asyncnc_class);
	unregister_chrdev_region(region, devices);
	kfree(devs);
}

module_init(asyncnc_init);
module_exit(asyncnc_exit);
MODULE_DESCRIPTION("asyncn benchmark baseline in C (not shipped)");
MODULE_LICENSE("GPL");
